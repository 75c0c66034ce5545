"""Chalk (Q9Labs' control plane over Cloudflare RealtimeKit, legacy `/api/v1` API): rooms that are the
meeting itself, per-person tokens opened on the deployment's own meeting page, recordings, a
post-meeting webhook with the recording and an AI summary."""

from __future__ import annotations

from typing import Any

import httpx

from bot.providers.base import Capabilities, Capability, ProviderPlugin
from bot.providers.chalk.settings import EXAMPLE_JOIN_URL, ChalkSettings


def build(settings: ChalkSettings, transport: httpx.AsyncBaseTransport | None = None):
    from bot.providers.chalk.client import ChalkClient, build_http

    if not settings.api_url or not settings.api_key or not settings.join_url:
        from bot.config import ConfigError

        raise ConfigError("Chalk needs " + "; ".join(settings.problems() or [
            "CHALK_API_URL, CHALK_API_KEY and CHALK_JOIN_URL"]))
    http = build_http(settings.api_url, settings.api_key.get_secret_value(), timeout=settings.timeout_seconds,
                      transport=transport)
    return ChalkClient(http, join_url=settings.join_url,
                       webhook_secret=settings.webhook_secret.get_secret_value() if settings.webhook_secret else None,
                       max_participants=settings.max_participants, recording_enabled=settings.recording_enabled,
                       chat_enabled=settings.chat_enabled)


def start_emulator(host: str = "127.0.0.1", port: int = 0) -> Any:
    from bot.sandbox.chalk import start_emulator as start

    return start(host=host, port=port)


PLUGIN = ProviderPlugin(
    name="chalk",
    title="Chalk",
    capabilities=Capabilities.of(
        {Capability.PRIVATE_ROOMS, Capability.LIVE_STATUS, Capability.END_SESSION, Capability.RECORDING,
         Capability.RECORDING_LINKS, Capability.SUMMARIES, Capability.WEBHOOKS, Capability.KICK,
         Capability.DELETE_ROOM},
        {
            Capability.POLLS: "Chalk has no poll API; polls run in Slack instead.",
            Capability.RESTREAM: "Chalk cannot stream a meeting to YouTube, Vimeo or an RTMP server.",
            Capability.SNAPSHOTS: "Chalk has no snapshot API.",
            Capability.SCHEDULING: "meetops does not schedule Chalk rooms yet.",
            Capability.DIAL_IN: "Chalk has no phone dial-in.",
            Capability.SESSION_HISTORY: "a Chalk room is one meeting and Chalk keeps no list of past ones by "
                                        "date; meetops' own log has them.",
        }),
    settings_model=ChalkSettings,
    configured=lambda settings: settings.configured,
    build=build,
    start_emulator=start_emulator,
    live_note="Chalk counts everyone given a link who has not left, including people who have not opened "
              "theirs yet.",
    setup_help=(
        "Set `CHALK_API_URL` (your Chalk API, ending in `/api/v1`) and `CHALK_API_KEY` (a tenant key, "
        "`ck_live_…` or `ck_test_…`; meetops exchanges it for hour-long tokens). Chalk hands out tokens, not "
        "links, so it needs your own meeting page (one that embeds Chalk's SDK): set `CHALK_JOIN_URL` to its "
        f"address as a template, e.g. `{EXAMPLE_JOIN_URL}`; meetops fills in the room id, the person's token "
        "and their name (each URL-encoded), and refuses to start with a template without `{token}`. Links "
        "last an hour. Recordings and summaries: `meetops webhooks register --provider chalk --url "
        "https://<host>/webhooks/chalk` points the tenant's post-meeting webhook here (summary and action items "
        "on) and prints a fresh `CHALK_WEBHOOK_SECRET`; or set that webhook and its secret in your tenant's "
        "config yourself. Live counts include people who got a link but have not opened it "
        "yet (Chalk counts issued tokens)."),
)
