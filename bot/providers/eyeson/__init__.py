"""Eyeson: meetings that exist while someone is in them, one personal link per person (one API call
each), live counts, end, restream to one destination, recording, snapshots and signed webhooks."""

from __future__ import annotations

from typing import Any

import httpx

from bot.providers.base import Capabilities, Capability, ProviderPlugin
from bot.providers.eyeson.settings import EyesonSettings


def build(settings: EyesonSettings, transport: httpx.AsyncBaseTransport | None = None):
    from bot.providers.eyeson.client import AccessKeys, EyesonClient, build_http

    key = settings.api_key.get_secret_value() if settings.api_key else ""
    keys = AccessKeys()
    http = build_http(settings.api_url, key, keys, timeout=settings.timeout_seconds, transport=transport)
    return EyesonClient(http, api_key=key, keys=keys)


def start_emulator(host: str = "127.0.0.1", port: int = 0) -> Any:
    from bot.sandbox.eyeson import start_emulator as start

    return start(host=host, port=port)


def _room_options() -> dict[str, str]:
    from bot.providers.eyeson.client import ROOM_OPTIONS

    return dict(ROOM_OPTIONS)


PLUGIN = ProviderPlugin(
    name="eyeson",
    title="Eyeson",
    capabilities=Capabilities.of(
        {Capability.PRIVATE_ROOMS, Capability.LIVE_STATUS, Capability.END_SESSION, Capability.RESTREAM,
         Capability.RECORDING, Capability.RECORDING_LINKS, Capability.SNAPSHOTS, Capability.WEBHOOKS},
        {
            Capability.POLLS: "Eyeson has no poll API; polls run in Slack instead.",
            Capability.SUMMARIES: "Eyeson has no AI summaries.",
            Capability.SCHEDULING: "Eyeson has no scheduled meetings (a meeting starts when the first person joins).",
            Capability.KICK: "meetops does not remove people from Eyeson meetings (Eyeson lets them rejoin at once).",
            Capability.DELETE_ROOM: "Eyeson keeps no idle rooms: a meeting exists only while someone is in it, so "
                                    "there is nothing to delete there.",
            Capability.DIAL_IN: "Eyeson's API has no phone dial-in to manage.",
            Capability.SESSION_HISTORY: "Eyeson does not list past meetings; meetops keeps its own log from "
                                        "Eyeson's webhooks.",
        }),
    settings_model=EyesonSettings,
    configured=lambda settings: settings.configured,
    build=build,
    start_emulator=start_emulator,
    room_options=_room_options(),
    setup_help="Set `EYESON_API_KEY` to your Eyeson API key (request one at eyeson.com). Webhooks: "
               "`meetops webhooks register --provider eyeson --url https://<host>/webhooks/eyeson` (Eyeson keeps "
               "one webhook per API key and replaces any other; deliveries are signed with the API key, so "
               "there is nothing else to set).",
    lists_idle_rooms=False,  # Eyeson lists running meetings only
)
