"""A local emulator of Chalk's legacy `/api/v1` API on the shared kit, for tests, the console and demos.

    server = start_emulator()      # running on a free loopback port
    server.client_settings()       # ChalkSettings fields pointing a client at it
    server.stop()

It exchanges its tenant key for short-lived tokens (`PUT /_sandbox/chalk/tokens {"ttl_seconds": 5}`
shortens them; `POST /_sandbox/chalk/tokens/expire` makes Chalk stop taking the current ones), and plays the
deployment's meeting page at `/join?room=…&token=…&name=…`.
"""

from __future__ import annotations

from bot.sandbox.kit import EmulatorServer

from .app import create_app
from .state import API_PREFIX, ChalkWorld

__all__ = ["ChalkWorld", "start_emulator", "create_app", "API_PREFIX"]


def _settings(world: ChalkWorld):
    def settings(url: str) -> dict:
        return {"api_url": url + API_PREFIX, "api_key": world.api_key,
                "join_url": url + "/join?room={room}&token={token}&name={name}",
                "webhook_secret": world.webhook.secret}
    return settings


def start_emulator(world: ChalkWorld | None = None, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """A fresh Chalk emulator with its own tenant and key, running on loopback."""
    import secrets

    world = world or ChalkWorld()
    if not world.webhook.secret:
        world.webhook.secret = secrets.token_urlsafe(24)
    server = EmulatorServer(create_app(world), world, settings=_settings(world), host=host, port=port)
    world.base_url = server.url
    server.start()
    return server
