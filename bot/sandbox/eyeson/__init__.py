"""A local emulator of the Eyeson REST API on the shared kit (`bot.sandbox.kit`), for tests, the
console and demos.

    server = start_emulator()                # running on a free loopback port
    server.client_settings()                 # {"api_url": ..., "api_key": ...} for EyesonSettings
    server.world                             # its live state
    server.stop()

Besides the kit's control API (`/_sandbox/faults|requests|deliveries|state|reset` and the sim verbs
join/leave/end/recording; `summary` answers 422: Eyeson has none) it has
`PUT /_sandbox/features {"disabled": ["recording" | "broadcast" | "snapshot", ...]}`: those features answer
405 for the whole account, as Eyeson does for a disabled feature.
"""

from __future__ import annotations

from bot.sandbox.kit import EmulatorServer

from .api import build_api
from .world import EyesonWorld

__all__ = ["EyesonWorld", "create_emulator", "start_emulator"]


def create_emulator(world: EyesonWorld | None = None, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """An emulator server, not yet started (`.start()`)."""
    world = world or EyesonWorld()
    app = build_api(world).build(sim=world)
    server = EmulatorServer(app, world, settings=lambda url: {"api_url": url, "api_key": world.api_key},
                            host=host, port=port)
    world.base_url = server.url
    return server


def start_emulator(world: EyesonWorld | None = None, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """The kit's entry point: a fresh Eyeson emulator with its own API key, running on loopback
    (`meetops sandbox --provider eyeson --port N` serves one on that port)."""
    server = create_emulator(world, host, port)
    server.start()
    return server
