"""A local emulator of OpenTalk's controller API (v0.30) and of its OIDC issuer, for tests, the console
and demos, on the shared emulator kit.

    server = start_emulator()        # running on a free loopback port
    settings = server.client_settings()   # OpenTalkSettings fields pointing here
    ...
    server.stop()

Control API (loopback only), besides the kit's: `GET|PUT /_sandbox/oidc` ({"token_lifetime": s,
"expire": true, "revoke": true | "all"}; answers the grant counts), `POST /_sandbox/users`
({"email", "name"}: an OpenTalk account), `PUT /_sandbox/features` ({"call_in": "<tel>" | null,
"user_search": bool}).
"""

from __future__ import annotations

from bot.sandbox.kit import EmulatorServer

from .app import create_app
from .world import OpenTalkWorld

__all__ = ["OpenTalkWorld", "create_app", "start_emulator"]


def _settings(world: OpenTalkWorld):
    def settings(url: str) -> dict:
        return {"api_url": url + "/v1", "web_url": url, "client_id": world.oidc.client_id,
                "client_secret": world.oidc.client_secret, "username": world.bot.username,
                "password": world.bot.password}
    return settings


def start_emulator(world: OpenTalkWorld | None = None, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """A fresh OpenTalk emulator (own client secret and bot password), running on loopback on return."""
    world = world or OpenTalkWorld()
    server = EmulatorServer(create_app(world), world, settings=_settings(world), host=host, port=port)
    server.start()
    return server
