"""OpenTalk (self-hosted, open source): what its REST API allows, said plainly where it stops.

Its REST API manages durable things (events with their rooms, invite codes, streaming targets, SIP
dial-in, recordings as room assets); everything inside a live meeting happens over its signaling
WebSocket, as a participant, which meetops does not do. Hence the capabilities below.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.providers.base import Capabilities, Capability, ProviderPlugin
from bot.providers.opentalk.settings import OpenTalkSettings


def build(settings: OpenTalkSettings, transport: httpx.AsyncBaseTransport | None = None):
    from bot.providers.http import build_http_client
    from bot.providers.opentalk.auth import OidcTokens
    from bot.providers.opentalk.client import OpenTalkClient

    if not settings.api_url:
        raise ValueError("OPENTALK_API_URL is not set")
    tokens = OidcTokens(
        api_url=settings.api_url, issuer=settings.oidc_issuer, client_id=settings.client_id or "",
        client_secret=settings.client_secret.get_secret_value() if settings.client_secret else "",
        username=settings.username or "",
        password=settings.password.get_secret_value() if settings.password else "",
        timeout=settings.timeout_seconds, transport=transport)
    http = build_http_client(settings.api_url, auth=tokens, timeout=settings.timeout_seconds, transport=transport)
    return OpenTalkClient(http, web_url=settings.web_url or settings.api_url.removesuffix("/v1"), tokens=tokens)


def start_emulator(host: str = "127.0.0.1", port: int = 0) -> Any:
    from bot.sandbox.opentalk import start_emulator as start

    return start(host=host, port=port)


PLUGIN = ProviderPlugin(
    name="opentalk",
    title="OpenTalk",
    capabilities=Capabilities.of(
        {Capability.RESTREAM, Capability.RECORDING_LINKS, Capability.SCHEDULING, Capability.DELETE_ROOM,
         Capability.DIAL_IN},
        {
            Capability.PRIVATE_ROOMS: "OpenTalk invite links are not tied to a person: anyone holding one can "
                                      "enter until it expires.",
            Capability.LIVE_STATUS: "OpenTalk's REST API does not say who is in a meeting; only a participant "
                                    "connected to the meeting sees that.",
            Capability.END_SESSION: "OpenTalk's REST API can end a meeting only by deleting its room; use "
                                    "`/meet delete` for that.",
            Capability.POLLS: "OpenTalk runs polls only inside the meeting, not over its REST API, so meetops "
                              "runs polls in Slack.",
            Capability.SUMMARIES: "OpenTalk has no meeting summaries.",
            Capability.RECORDING: "OpenTalk starts recordings only from inside the meeting (and needs its "
                                  "recorder service); start one from the meeting's own controls.",
            Capability.SNAPSHOTS: "OpenTalk has no snapshot API.",
            Capability.WEBHOOKS: "OpenTalk sends no webhooks, so meetops learns nothing by itself about "
                                 "meetings starting or ending.",
            Capability.KICK: "OpenTalk removes people only from inside the meeting, not over its REST API.",
            Capability.SESSION_HISTORY: "OpenTalk keeps no record of meetings held, only of scheduled ones.",
        }),
    settings_model=OpenTalkSettings,
    configured=lambda settings: settings.configured,
    build=build,
    start_emulator=start_emulator,
    room_options={
        "waiting-room": "people wait in OpenTalk's waiting room until a moderator lets them in",
        "phone": "phone dial-in (SIP): the room message shows the number, room id and PIN",
    },
    setup_help="OpenTalk has no API keys: create an OpenTalk user for meetops and a confidential OIDC client "
               "(password grant allowed) in its identity provider (Keycloak), then set `OPENTALK_API_URL` "
               "(…/v1), `OPENTALK_WEB_URL`, `OPENTALK_CLIENT_ID`, `OPENTALK_CLIENT_SECRET`, "
               "`OPENTALK_USERNAME` and `OPENTALK_PASSWORD` (`OPENTALK_OIDC_ISSUER` only when the "
               "controller's `/v1/auth/login` does not name the issuer meetops should use). "
               "Live streams need OpenTalk's recorder service; phone dial-in needs its call-in feature.",
)
