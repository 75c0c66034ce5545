"""Neutral types for scheduled meetings and for recordings meetops serves itself (see the end of
`Provider` in `bot.providers.base`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.providers.base import Room
from bot.recurrence import Repeat


@dataclass(frozen=True)
class MeetingPlan:
    """A meeting to schedule. `starts_at` is aware; `timezone` (IANA) is the zone it repeats in."""

    title: str
    starts_at: datetime
    duration: timedelta
    timezone: str
    repeat: Repeat = Repeat.NEVER
    invitees: tuple[str, ...] = ()  # e-mail addresses; the provider sends the invitations
    description: str = ""

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + self.duration


@dataclass(frozen=True)
class ScheduledMeeting:
    id: str  # the provider's id for the meeting (series)
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    repeat: Repeat
    room: Room
    invited: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # invitees that could not be invited, in words


@dataclass(frozen=True)
class Occurrence:
    meeting_id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    room_id: str
    repeating: bool = False


@dataclass
class RecordingDownload:
    """An open download: read `chunks` once, then it closes."""

    filename: str
    content_type: str
    size: int | None
    chunks: AsyncIterator[bytes]
