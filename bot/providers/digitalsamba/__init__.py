"""Digital Samba: rooms with sessions, local JWT join links, polls, restreams, summaries, recordings and
webhooks, all over REST."""

from __future__ import annotations

from typing import Any

import httpx

from bot.providers.base import Capabilities, Capability, ProviderPlugin
from bot.providers.digitalsamba.settings import DigitalSambaSettings


def build(settings: DigitalSambaSettings, transport: httpx.AsyncBaseTransport | None = None):
    from bot.providers.digitalsamba.client import DigitalSambaClient, build_http

    key = settings.developer_key.get_secret_value() if settings.developer_key else ""
    http = build_http(settings.api_url, key, timeout=settings.timeout_seconds, transport=transport)
    return DigitalSambaClient(http, team_id=settings.team_id or "", developer_key=key,
                              webhook_token=settings.webhook_token.get_secret_value() if settings.webhook_token else None)


def start_emulator() -> Any:
    from bot.sandbox.digitalsamba import start_emulator as start

    return start()


PLUGIN = ProviderPlugin(
    name="digitalsamba",
    title="Digital Samba",
    capabilities=Capabilities.of(
        {Capability.PRIVATE_ROOMS, Capability.LIVE_STATUS, Capability.END_SESSION, Capability.POLLS, Capability.RECORDING,
         Capability.RESTREAM, Capability.SUMMARIES, Capability.RECORDING_LINKS, Capability.WEBHOOKS,
         Capability.DELETE_ROOM, Capability.SESSION_HISTORY},
        {
            Capability.SNAPSHOTS: "Digital Samba has no snapshot API.",
            Capability.SCHEDULING: "Digital Samba has no scheduling API.",
            Capability.KICK: "Digital Samba's API has no way to remove one person.",
            Capability.DIAL_IN: "meetops does not manage Digital Samba's phone bridge yet.",
        }),
    settings_model=DigitalSambaSettings,
    configured=lambda settings: settings.configured,
    build=build,
    start_emulator=start_emulator,
    setup_help="Dashboard → Team Settings → Developer: set `DS_TEAM_ID` and `DS_DEVELOPER_KEY`. "
               "Webhooks: `meetops webhooks register --provider digitalsamba --url https://<host>/webhooks/digitalsamba`, "
               "then set the printed `DS_WEBHOOK_TOKEN`.",
)
