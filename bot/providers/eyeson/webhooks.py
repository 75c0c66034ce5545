"""Eyeson's webhook deliveries.

Authentication: `X-Eyeson-Signature` is the lowercase hex HMAC-SHA256 of the raw body keyed with the API
key; it is checked in constant time before the body is parsed. Eyeson sends no timestamp, so a replayed
delivery verifies: the events' dedupe keys make it harmless (it is handled once).

Events: `room_update` (`room.shutdown` false: the meeting runs; true: it ended) and `recording_update`
(three deliveries per recording: started, stopped, finished; only the last has a download link).
Eyeson sends nothing when people join or leave.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.providers.base import EventKind, ProviderEvent
from bot.providers.eyeson.client import session_id
from bot.providers.http import parse_time
from bot.safejson import loads

SIGNATURE_HEADER = "x-eyeson-signature"


def signature(api_key: str, body: bytes) -> str:
    return hmac.new(api_key.encode(), body, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:  # a plain dict with other capitalisation
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value or ""


# The parts of a delivery meetops reads, validated at the edge; anything else in it is ignored.


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class _RoomPart(_Lenient):
    id: str
    name: str | None = None
    started_at: str | int | float | None = None
    shutdown: bool = False


class _Links(_Lenient):
    download: str | None = None


class _RecordingPart(_Lenient):
    id: str
    created_at: str | int | float | None = None
    duration: float | None = None
    links: _Links = _Links()
    room: _RoomPart | None = None


class _Delivery(_Lenient):
    type: str
    timestamp: str | int | float | None = None
    room: _RoomPart | None = None
    recording: _RecordingPart | None = None


class EyesonWebhooks:
    def __init__(self, api_key: str):
        self._key = api_key

    def __repr__(self) -> str:
        return "EyesonWebhooks(***)"

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> bool:
        given = _header(headers, SIGNATURE_HEADER).strip().lower()
        if not given:
            return False
        return hmac.compare_digest(given.encode("utf-8", "replace"), signature(self._key, body).encode())

    def parse(self, body: bytes) -> list[ProviderEvent]:
        payload: Any = loads(body)
        if not isinstance(payload, dict):
            raise ValueError("expected a JSON object")
        try:
            delivery = _Delivery.model_validate(payload)
        except ValidationError as exc:
            raise ValueError(f"not an Eyeson delivery ({exc.error_count()} problems)") from None
        at = parse_time(delivery.timestamp)
        if delivery.type == "room_update" and delivery.room is not None:
            return [self._room_event(delivery.room, at)]
        if delivery.type == "recording_update" and delivery.recording is not None:
            return self._recording_events(delivery.recording, at)
        return []

    @staticmethod
    def _room_event(room: _RoomPart, at: datetime | None) -> ProviderEvent:
        started = parse_time(room.started_at)
        run = session_id(room.id, started)
        if room.shutdown:
            return ProviderEvent(kind=EventKind.SESSION_ENDED, dedupe_key=f"room_update:{run}:shutdown",
                                 room_id=room.id, session_id=run, at=at, started_at=started, ended_at=at)
        # Eyeson may send several updates while a meeting runs (e.g. when it becomes ready): one start.
        return ProviderEvent(kind=EventKind.SESSION_STARTED, dedupe_key=f"room_update:{run}:running",
                             room_id=room.id, session_id=run, at=at, started_at=started)

    @staticmethod
    def _recording_events(recording: _RecordingPart, at: datetime | None) -> list[ProviderEvent]:
        if not recording.links.download:
            return []  # started or stopped, not yet ready
        room = recording.room
        started = parse_time(room.started_at) if room else None
        # No URL in the event: Eyeson's download links expire, so meetops fetches a fresh one
        # (`recording_link`) whenever someone asks for the recording.
        return [ProviderEvent(kind=EventKind.RECORDING_READY, dedupe_key=f"recording_update:{recording.id}:ready",
                              room_id=room.id if room else "",
                              session_id=session_id(room.id, started) if room and started else "",
                              at=at, recording_id=recording.id, recording_url=None)]
