"""Digital Samba's webhook deliveries: authenticated by the `Authorization` header, which Digital Samba
sets to the `authorization_header` given at registration (no HMAC), compared in constant time; the body
`{"event", "timestamp", "data": {...}}` becomes neutral events."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.providers.base import EventKind, ProviderEvent
from bot.providers.http import parse_time
from bot.safejson import loads

# Digital Samba's event names -> meetops' (also what `webhooks register` subscribes to).
EVENTS: dict[str, EventKind] = {
    "session_started": EventKind.SESSION_STARTED,
    "participant_joined": EventKind.PARTICIPANT_JOINED,
    "participant_left": EventKind.PARTICIPANT_LEFT,
    "session_ended": EventKind.SESSION_ENDED,
    "session_summary_ready": EventKind.SUMMARY_READY,
    "recording_ready": EventKind.RECORDING_READY,
}


def _id(data: dict, kind: str) -> str:
    """`session_id`, or `session: {"id"}`."""
    value = data.get(f"{kind}_id")
    if not value and isinstance(data.get(kind), dict):
        value = data[kind].get("id")
    return str(value or "")


def _count(value: Any) -> int | None:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return None


class DigitalSambaWebhooks:
    def __init__(self, token: str):
        self._token = token.encode()

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> bool:
        given = headers.get("authorization") or ""
        return bool(given) and hmac.compare_digest(given.encode(), self._token)

    def parse(self, body: bytes) -> list[ProviderEvent]:
        """Leniently: `type` for `event`, ids at the top level or under `data`."""
        payload = loads(body)
        if not isinstance(payload, dict):
            raise ValueError("expected a JSON object")
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        merged = {**{k: v for k, v in payload.items() if k != "data"}, **data}
        name = str(payload.get("event") or payload.get("type") or "").strip().lower().replace(".", "_").replace("-", "_")
        kind = EVENTS.get(name)
        session_id = _id(merged, "session")
        if kind is None or not session_id:
            return []
        participant = str(merged.get("participant_id") or "")
        recording = str(merged.get("recording_id") or (merged.get("id") if kind == EventKind.RECORDING_READY else "") or "")
        return [ProviderEvent(
            kind=kind, dedupe_key=f"{name}:{session_id}:{participant or recording}",
            room_id=_id(merged, "room"), session_id=session_id, at=parse_time(payload.get("timestamp")),
            started_at=parse_time(merged.get("start_time")), ended_at=parse_time(merged.get("end_time")),
            participants=_count(merged.get("participants_total")), participant_id=participant,
            recording_id=recording)]
