"""Chalk's post-meeting webhook (`meeting.recording_ready`, the only event its code sends).

Verification, before the body is read as JSON: `X-Chalk-Signature: sha256=<hex>` where hex is
HMAC-SHA256(secret, "{X-Chalk-Timestamp}.{raw body}"), compared in constant time; the timestamp must be
within 5 minutes of now; a signature seen before (within that window) is a replay and refused.

The delivery becomes one neutral RECORDING_READY event carrying the recording's link and, when the tenant
has summaries on, the summary and action items. Its dedupe key is the meeting and the recording.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.providers.base import EventKind, ProviderEvent
from bot.safejson import loads

WINDOW_SECONDS = 300
MAX_REMEMBERED = 10_000  # signatures kept for replay checks (each for the 5-minute window at most)
MAX_TEXT = 20_000
MAX_ITEMS = 50


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Meeting(_Lenient):
    id: str = Field(min_length=1, max_length=200)
    name: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    participant_count: int | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, str)) else value


class _Recording(_Lenient):
    id: str = Field(min_length=1, max_length=200)
    download_url: str | None = Field(default=None, max_length=4000)

    @field_validator("id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, str)) else value

    @field_validator("download_url")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        # Only a web link is posted; anything else (javascript:, Slack markup) is dropped.
        return value if value and value.startswith(("https://", "http://")) and not set(value) & set("<>| \n") else None


def _item_text(item: Any) -> str:
    """An action item as Chalk's AI writes it: a string, or an object with the task and maybe an owner."""
    if isinstance(item, str):
        return item.strip()
    if isinstance(item, dict):
        text = next((str(item[k]) for k in ("text", "description", "task", "title", "item") if item.get(k)), "")
        owner = next((str(item[k]) for k in ("assignee", "owner") if item.get(k)), "")
        return f"{text.strip()} ({owner.strip()})" if text and owner else text.strip()
    return ""


class RecordingReady(_Lenient):
    event: str
    timestamp: Any = None
    meeting: _Meeting
    recording: _Recording
    summary: str | None = None
    action_items: list[Any] = Field(default_factory=list)

    @field_validator("summary", mode="before")
    @classmethod
    def _summary(cls, value: Any) -> Any:
        if isinstance(value, dict):  # {"text": …} in some configurations
            value = value.get("text") or value.get("summary")
        return str(value).strip()[:MAX_TEXT] if value else None

    @field_validator("action_items", mode="before")
    @classmethod
    def _items(cls, value: Any) -> Any:
        return value if isinstance(value, list) else []


class ChalkWebhooks:
    """Verifies and reads Chalk's deliveries. One instance per process: it remembers signatures."""

    def __init__(self, secret: str):
        self._secret = secret.encode()
        self._seen: OrderedDict[str, float] = OrderedDict()  # signature -> when it stops mattering

    def __repr__(self) -> str:
        return "ChalkWebhooks(***)"

    def _forget_old(self, now: float) -> None:
        while self._seen and (next(iter(self._seen.values())) < now or len(self._seen) > MAX_REMEMBERED):
            self._seen.popitem(last=False)

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> bool:
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        given = lowered.get("x-chalk-signature", "").strip()
        stamp = lowered.get("x-chalk-timestamp", "").strip()
        if not given.startswith("sha256=") or not stamp.isdigit() or len(stamp) > 12:
            return False
        sent = int(stamp)
        moment = now.timestamp() if now.tzinfo else now.replace(tzinfo=timezone.utc).timestamp()
        if abs(moment - sent) > WINDOW_SECONDS:
            return False
        expected = hmac.new(self._secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.removeprefix("sha256=").lower().encode(), expected.encode()):
            return False
        self._forget_old(moment)
        if expected in self._seen:
            return False  # a replay of a delivery already taken
        self._seen[expected] = sent + WINDOW_SECONDS + 1
        return True

    def parse(self, body: bytes) -> list[ProviderEvent]:
        payload = loads(body)
        if not isinstance(payload, dict):
            raise ValueError("expected a JSON object")
        if str(payload.get("event") or "").strip().lower() != "meeting.recording_ready":
            return []  # Chalk's planned events (meeting.started, …) are not sent by its code yet
        try:
            ready = RecordingReady.model_validate(payload)
        except ValidationError:
            raise ValueError("a recording_ready delivery without its meeting or recording") from None
        items = tuple(t[:500] for t in (_item_text(i) for i in ready.action_items[:MAX_ITEMS]) if t)
        at = _time(ready.timestamp)
        meeting = ready.meeting
        started, ended = _time(meeting.started_at), _time(meeting.ended_at)
        # Chalk sends no start or end events (its code has only this one), but a Chalk room is its meeting
        # and this delivery says when it ran: meetops' session log learns it here, so the summary it carries
        # belongs to a meeting meetops knows.
        events = []
        if started is not None:
            events.append(ProviderEvent(kind=EventKind.SESSION_STARTED, dedupe_key=f"meeting.started:{meeting.id}",
                                        room_id=meeting.id, session_id=meeting.id, at=started, started_at=started))
        if ended is not None:
            events.append(ProviderEvent(kind=EventKind.SESSION_ENDED, dedupe_key=f"meeting.ended:{meeting.id}",
                                        room_id=meeting.id, session_id=meeting.id, at=ended, started_at=started,
                                        ended_at=ended, participants=meeting.participant_count))
        return events + [ProviderEvent(
            kind=EventKind.RECORDING_READY,
            dedupe_key=f"meeting.recording_ready:{ready.meeting.id}:{ready.recording.id}",
            room_id=ready.meeting.id, session_id=ready.meeting.id, at=at,
            started_at=started, ended_at=ended,
            participants=ready.meeting.participant_count, recording_id=ready.recording.id,
            recording_url=ready.recording.download_url, summary=ready.summary or None, action_items=items)]


def _time(value: Any) -> datetime | None:
    from bot.providers.http import parse_time

    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return parse_time(value)
