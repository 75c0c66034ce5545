"""The seam between meetops and a meeting provider.

Commands talk to a `MeetingProvider`; only `bot.providers.digitalsamba` knows
Digital Samba's paths and field names. Another provider (OpenTalk, Eyeson, …)
plugs in by implementing this protocol and returning these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import AsyncIterator, Protocol


@dataclass(frozen=True)
class Room:
    id: str
    friendly_url: str
    description: str | None
    privacy: str
    room_url: str


@dataclass(frozen=True)
class LiveRoom:
    room_id: str
    participants: int
    started_at: datetime | None


@dataclass(frozen=True)
class Session:
    id: str
    room_id: str
    started_at: datetime | None
    ended_at: datetime | None
    live: bool
    participants: int

    @property
    def duration_seconds(self) -> int | None:
        if self.started_at and self.ended_at:
            return max(0, int((self.ended_at - self.started_at).total_seconds()))
        return None


class SummaryStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    READY = "READY"
    NO_TRANSCRIPT = "NO_TRANSCRIPT"


@dataclass(frozen=True)
class Summary:
    status: SummaryStatus
    text: str = ""


class PollType(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    FREE = "free"


@dataclass(frozen=True)
class PollOption:
    id: str
    text: str


@dataclass(frozen=True)
class Poll:
    id: str
    question: str
    status: str
    anonymous: bool
    multiple: bool
    options: tuple[PollOption, ...] = ()


@dataclass(frozen=True)
class OptionResult:
    text: str
    votes: int
    voters: tuple[str, ...] = ()


@dataclass(frozen=True)
class PollResults:
    poll_id: str
    question: str
    total_votes: int
    options: tuple[OptionResult, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Participant:
    """Who a join link is for."""

    external_id: str
    role: str
    name: str | None = None
    avatar: str | None = None


class MeetingProvider(Protocol):
    """What meetops needs from a meeting platform. All calls may raise `ProviderError`s."""

    async def create_room(self, *, friendly_url: str, description: str, private: bool, external_id: str) -> Room: ...

    async def get_room(self, room: str) -> Room: ...

    def iter_rooms(self) -> AsyncIterator[Room]: ...

    def iter_live_rooms(self) -> AsyncIterator[LiveRoom]: ...

    async def live_session(self, room: str) -> Session | None: ...

    async def latest_session(self, room: str) -> Session | None: ...

    def iter_sessions(self, *, since: date, until: date) -> AsyncIterator[Session]: ...

    async def end_session(self, session_id: str) -> None: ...

    async def get_summary(self, session_id: str) -> Summary: ...

    async def create_poll(self, room: str, *, question: str, type: PollType, anonymous: bool, options: list[str]) -> Poll: ...

    def iter_polls(self, room: str) -> AsyncIterator[Poll]: ...

    async def poll_results(self, room: str, poll_id: str) -> PollResults: ...

    async def start_restream(self, room: str, *, stream_key: str, type: str | None = None, server_url: str | None = None) -> None: ...

    async def stop_restream(self, room: str) -> None: ...

    async def recording_link(self, recording_id: str) -> str: ...

    async def create_webhook(self, *, endpoint: str, events: list[str], authorization_header: str, name: str) -> str: ...

    def join_link(self, room: Room, participant: Participant, *, lifetime: timedelta) -> str:
        """A personal link, signed locally: no round trip to the provider."""
        ...

    async def aclose(self) -> None: ...
