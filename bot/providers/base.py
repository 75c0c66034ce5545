"""The seam between meetops and a meeting platform.

A provider is a plug-in (see `bot.providers.registry`): a `ProviderPlugin` names it, declares its
`Capabilities` (every one it lacks with a reason in words), its own settings model (own env prefix),
how to build its client, its webhook adapter and its emulator. Commands talk to a `Provider` and only
through these neutral types; a provider's paths and field names stay in its own folder.

A small core every provider has (create a room, a personal join grant, list rooms) and optional
features the provider declares. Calling an optional feature a provider lacks raises `Unsupported`,
whose text names the provider and its reason; the UI reads `capabilities` so that it never offers it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Protocol

from bot.errors import MeetopsError, ProviderNotFound

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from bot.providers.scheduling import MeetingPlan, Occurrence, RecordingDownload, ScheduledMeeting

log = logging.getLogger(__name__)


# -- capabilities ------------------------------------------------------------------------


class Capability(StrEnum):
    # core: every provider has these
    CREATE_ROOM = "create_room"
    PERSONAL_JOIN = "personal_join"
    LIST_ROOMS = "list_rooms"
    # optional
    PRIVATE_ROOMS = "private_rooms"      # rooms only a personal link gets into
    LIVE_STATUS = "live_status"          # which rooms are live, with participant counts
    END_SESSION = "end_session"          # end a running meeting (the room stays)
    POLLS = "polls"                      # in-meeting polls through the provider (else polls run in Slack)
    RESTREAM = "restream"                # stream a meeting to YouTube / Vimeo / Cloudflare / RTMP
    SUMMARIES = "summaries"              # AI summaries of a meeting
    RECORDING = "recording"              # start and stop a recording from Slack
    RECORDING_LINKS = "recording_links"  # links to a meeting's recordings
    SNAPSHOTS = "snapshots"              # a picture of the meeting
    SCHEDULING = "scheduling"            # meetings at a date and time, repeating
    WEBHOOKS = "webhooks"                # the provider tells meetops what happens in its rooms
    KICK = "kick"                        # remove someone from a room
    DELETE_ROOM = "delete_room"
    DIAL_IN = "dial_in"                  # join by phone
    SESSION_HISTORY = "session_history"  # the provider lists past meetings (meetops keeps its own log too)


CORE = frozenset({Capability.CREATE_ROOM, Capability.PERSONAL_JOIN, Capability.LIST_ROOMS})

# How each capability reads in /meet help and the README's provider table.
LABELS: dict[Capability, str] = {
    Capability.CREATE_ROOM: "create rooms",
    Capability.PERSONAL_JOIN: "personal join links",
    Capability.LIST_ROOMS: "list rooms",
    Capability.PRIVATE_ROOMS: "private rooms",
    Capability.LIVE_STATUS: "live status and counts",
    Capability.END_SESSION: "end a meeting",
    Capability.POLLS: "in-meeting polls",
    Capability.RESTREAM: "restream (go live)",
    Capability.SUMMARIES: "AI summaries",
    Capability.RECORDING: "record from Slack",
    Capability.RECORDING_LINKS: "recording links",
    Capability.SNAPSHOTS: "snapshots",
    Capability.SCHEDULING: "scheduled meetings",
    Capability.WEBHOOKS: "webhooks",
    Capability.KICK: "remove someone",
    Capability.DELETE_ROOM: "delete a room",
    Capability.DIAL_IN: "phone dial-in",
    Capability.SESSION_HISTORY: "meeting history",
}


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do; every capability it cannot do comes with a reason in words
    ("Eyeson has no poll API"), which the bot says when someone asks for it anyway."""

    supported: frozenset[Capability]
    missing: Mapping[Capability, str]

    def __post_init__(self) -> None:
        unexplained = set(Capability) - set(self.supported) - set(self.missing)
        if unexplained:
            raise ValueError(f"capabilities without a reason: {sorted(unexplained)}")
        if not CORE <= self.supported:
            raise ValueError(f"a provider must support {sorted(CORE - self.supported)}")
        if set(self.supported) & set(self.missing):
            raise ValueError("a capability cannot be both supported and missing")

    @classmethod
    def of(cls, supported: set[Capability] | frozenset[Capability], missing: Mapping[Capability, str]) -> Capabilities:
        return cls(frozenset(supported) | CORE, dict(missing))

    def __contains__(self, capability: object) -> bool:
        return capability in self.supported

    def reason(self, capability: Capability) -> str:
        return self.missing.get(capability, "")


class Unsupported(MeetopsError):
    """Someone asked for a feature the room's provider does not have."""

    def __init__(self, title: str, capability: Capability, reason: str):
        super().__init__(f"That isn't available on {title} rooms: {reason}")
        self.capability = capability


# -- neutral types -------------------------------------------------------------------------


class Role(StrEnum):
    MODERATOR = "moderator"
    ATTENDEE = "attendee"


@dataclass(frozen=True)
class Room:
    """A room as the provider has it. `extra` is the provider's own data meetops keeps for it
    (opaque JSON, e.g. an event id); `facts` are lines for the room message (label, value), e.g. a
    dial-in number. Neither may hold a secret."""

    id: str
    friendly_url: str
    description: str | None
    privacy: str
    room_url: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    facts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RoomSpec:
    """A room to create. `options` are the provider's own flags the person typed (`--waiting-room`),
    each one declared in the plugin's `room_options`."""

    name: str
    slug: str
    description: str
    private: bool
    external_id: str
    options: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Person:
    """Who a join grant (or an invitation) is for."""

    slack_user_id: str
    external_id: str  # "<team>:<user>"
    role: Role
    name: str | None = None
    avatar: str | None = None
    email: str | None = None


# Kept for the Digital Samba client's local JWT claims.
@dataclass(frozen=True)
class Participant:
    external_id: str
    role: str
    name: str | None = None
    avatar: str | None = None


@dataclass(frozen=True)
class JoinGrant:
    """A personal way into a room. `url` is a secret: it goes only to its owner.

    `expires_at` None: it lasts as long as the meeting (or the provider says nothing). `identity_bound`:
    only this person can use it (else anyone holding it gets in until it expires, and the reply says so).
    `note` is the provider's own words for the reply ("The link lasts as long as the meeting.").
    `handle` is what the provider wants back next time this person joins this room (a participant id,
    an invite's id) so it can reuse rather than mint again; never a secret in clear. `guest`: the link enters
    as a guest whatever role meetops gave the person (a code that carries no role), so the reply claims none."""

    url: str
    expires_at: datetime | None
    identity_bound: bool
    note: str = ""
    handle: Mapping[str, Any] = field(default_factory=dict)
    guest: bool = False


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
class RestreamTarget:
    """Where to stream: a preset platform (`type`: youtube | vimeo | cloudflare) or an RTMP `server_url`,
    and the stream key (a secret: never logged, stored or echoed)."""

    label: str
    stream_key: str
    type: str | None = None
    server_url: str | None = None
    public_url: str | None = None

    def __repr__(self) -> str:
        return f"RestreamTarget(label={self.label!r}, type={self.type!r}, stream_key=***)"


@dataclass(frozen=True)
class RestreamStarted:
    """`live`: the stream is running now. False: the destination is stored at the provider and the
    meeting starts it itself (`note` says how)."""

    live: bool = True
    note: str = ""


@dataclass(frozen=True)
class Recording:
    id: str
    room_id: str
    created_at: datetime | None = None
    url: str | None = None  # may expire; fetch a fresh one with recording_link
    name: str = ""


@dataclass(frozen=True)
class Invited:
    """One person's result in an invitation: a grant, or why not (in words)."""

    person: Person
    grant: JoinGrant | None = None
    problem: str | None = None


# -- webhooks: each provider verifies its own way and speaks neutral events -----------------


class EventKind(StrEnum):
    SESSION_STARTED = "session_started"
    SESSION_ENDED = "session_ended"
    PARTICIPANT_JOINED = "participant_joined"
    PARTICIPANT_LEFT = "participant_left"
    RECORDING_READY = "recording_ready"
    SUMMARY_READY = "summary_ready"


@dataclass(frozen=True)
class ProviderEvent:
    """What a webhook delivery said, in meetops' words. `dedupe_key` is the provider's own way of
    telling two deliveries of the same thing apart (unique per provider). Ids are the provider's."""

    kind: EventKind
    dedupe_key: str
    room_id: str = ""
    session_id: str = ""
    at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    participants: int | None = None
    participant_id: str = ""
    recording_id: str = ""
    recording_url: str | None = None   # when the delivery carries it (may expire)
    summary: str | None = None         # when the delivery carries it (Chalk)
    action_items: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebhookRegistration:
    id: str
    url: str
    secret: str | None = None  # shown once to the operator when the provider hands one out
    secret_setting: str = ""   # the setting to put it in, e.g. DS_WEBHOOK_TOKEN
    note: str = ""             # e.g. "Eyeson keeps one webhook per API key"


class WebhookAdapter(Protocol):
    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> bool:
        """True only for a genuine delivery; constant time; must not parse the body first."""
        ...

    def parse(self, body: bytes) -> list[ProviderEvent]:
        """The delivery's events (none for events meetops doesn't use). Raises ValueError on garbage."""
        ...


# -- the provider ------------------------------------------------------------------------


class Provider:
    """Base class of every provider client. Optional features raise `Unsupported` unless the provider
    implements them (and declares them in its plugin's capabilities)."""

    plugin: "ProviderPlugin"
    # The provider keeps rooms between meetings, so one it no longer knows was deleted. False for platforms
    # whose meetings exist only while someone is in them (meetops alone remembers the room).
    rooms_persist: bool = True
    # Its webhooks report people joining and leaving; without them meetops asks for the live count now and
    # then while a meeting runs (providers with live status only).
    participant_events: bool = False
    # A room hosts meeting after meeting. False where the room is the meeting itself: once ended it stays
    # ended, so meetops makes a new room rather than offer Join on one nobody can enter.
    rooms_reopen: bool = True
    # Its head count is of links handed out (people given one who haven't left), not of people in the meeting.
    counts_links: bool = False
    # Why a meeting got no summary and what to do about it, in the platform's words: the end of
    # "There is no summary of the last meeting in *X*: …".
    no_summary_reason: str = ("summaries are made from the meeting's transcript, and this meeting has none. "
                              "Turn transcription on for the next one.")

    @property
    def name(self) -> str:
        return self.plugin.name

    @property
    def title(self) -> str:
        return self.plugin.title

    @property
    def capabilities(self) -> Capabilities:
        return self.plugin.capabilities

    def unsupported(self, capability: Capability) -> Unsupported:
        if capability in self.capabilities:
            # Declared but not implemented (a client missing a method): a bug of meetops, not of the person's ask.
            log.error("%s declares %s but its client does not implement what was asked", self.title, capability.value)
            return Unsupported(self.title, capability, "meetops can't do that there yet.")
        return Unsupported(self.title, capability, self.capabilities.reason(capability))

    def capabilities_of(self, room: "Room") -> Capabilities:
        """What this room can do: the platform's capabilities, less what the room was made without (a room
        option such as Eyeson's --no-recording). The room message's buttons follow it."""
        return self.capabilities

    def require(self, capability: Capability, room: "Room | None" = None) -> None:
        if capability not in self.capabilities:
            raise self.unsupported(capability)
        if room is not None and capability not in (this_room := self.capabilities_of(room)):
            raise MeetopsError(f"That isn't available in this room: {this_room.reason(capability)}")

    # -- core --
    async def check(self) -> None:
        """One cheap authenticated call at start-up; raises a ConfigError naming the setting at fault."""

    async def create_room(self, spec: RoomSpec, *, idempotency_key: str) -> Room:
        raise NotImplementedError

    async def get_room(self, ref: str) -> Room:
        """By id or link name; ProviderNotFound when there is none."""
        raise NotImplementedError

    def iter_rooms(self) -> AsyncIterator[Room]:
        raise NotImplementedError

    async def find_made(self, spec: RoomSpec, *, known: set[str]) -> Room | None:
        """The room a create that got no answer (a timeout, a crash) may have made, or None. By its link name,
        with the description it was asked with; `known`: ids of rooms meetops already has, never this one."""
        try:
            found = await self.get_room(spec.slug)
        except ProviderNotFound:
            return None
        if found.id in known or found.friendly_url.casefold() != spec.slug.casefold():
            return None
        return found if not found.description or found.description == spec.description else None

    async def issue_join(self, room: Room, person: Person, *, lifetime: timedelta,
                         previous: Mapping[str, Any] | None = None) -> JoinGrant:
        raise NotImplementedError

    async def invite(self, room: Room, people: list[Person], *, lifetime: timedelta) -> list[Invited]:
        """Grants for several people; one person's failure does not fail the others."""
        results = []
        for person in people:
            try:
                results.append(Invited(person, grant=await self.issue_join(room, person, lifetime=lifetime)))
            except MeetopsError as exc:
                results.append(Invited(person, problem=exc.user_message))
        return results

    async def aclose(self) -> None:
        pass

    # -- optional --
    def iter_live_rooms(self) -> AsyncIterator[LiveRoom]:
        raise self.unsupported(Capability.LIVE_STATUS)

    async def live_session(self, room: Room) -> Session | None:
        """The room's running meeting, found among the live rooms (providers with a direct call override)."""
        if Capability.LIVE_STATUS not in self.capabilities:
            raise self.unsupported(Capability.LIVE_STATUS)
        async for live in self.iter_live_rooms():
            if live.room_id == room.id:
                started = live.started_at
                return Session(id=f"{room.id}@{int(started.timestamp()) if started else 'live'}", room_id=room.id,
                               started_at=started, ended_at=None, live=True, participants=live.participants)
        return None

    async def latest_session(self, room: Room) -> Session | None:
        raise self.unsupported(Capability.SESSION_HISTORY)

    def iter_sessions(self, *, since: date, until: date) -> AsyncIterator[Session]:
        raise self.unsupported(Capability.SESSION_HISTORY)

    async def end_session(self, room: Room, session_id: str | None) -> None:
        raise self.unsupported(Capability.END_SESSION)

    async def delete_room(self, room: Room) -> None:
        raise self.unsupported(Capability.DELETE_ROOM)

    async def get_summary(self, session_id: str) -> Summary:
        raise self.unsupported(Capability.SUMMARIES)

    async def create_poll(self, room: Room, *, question: str, type: PollType, anonymous: bool,
                          options: list[str]) -> Poll:
        raise self.unsupported(Capability.POLLS)

    def iter_polls(self, room: Room) -> AsyncIterator[Poll]:
        raise self.unsupported(Capability.POLLS)

    async def poll_results(self, room: Room, poll_id: str) -> PollResults:
        raise self.unsupported(Capability.POLLS)

    async def start_restream(self, room: Room, target: RestreamTarget) -> RestreamStarted:
        raise self.unsupported(Capability.RESTREAM)

    async def stop_restream(self, room: Room) -> None:
        raise self.unsupported(Capability.RESTREAM)

    async def start_recording(self, room: Room) -> None:
        raise self.unsupported(Capability.RECORDING)

    async def stop_recording(self, room: Room) -> None:
        raise self.unsupported(Capability.RECORDING)

    async def recording_link(self, recording_id: str) -> str:
        raise self.unsupported(Capability.RECORDING_LINKS)

    def iter_recordings(self, room: Room) -> AsyncIterator[Recording]:
        raise self.unsupported(Capability.RECORDING_LINKS)

    async def snapshot(self, room: Room) -> str:
        raise self.unsupported(Capability.SNAPSHOTS)

    async def remove_participant(self, room: Room, handle: Mapping[str, Any]) -> None:
        raise self.unsupported(Capability.KICK)

    # -- webhooks --
    def webhook_adapter(self) -> WebhookAdapter | None:
        """How this provider's deliveries are verified and read (None: it sends none, or none is set up)."""
        return None

    async def register_webhook(self, url: str) -> WebhookRegistration:
        raise self.unsupported(Capability.WEBHOOKS)

    async def list_webhooks(self) -> list[WebhookRegistration]:
        raise self.unsupported(Capability.WEBHOOKS)

    async def delete_webhook(self, webhook_id: str) -> None:
        raise self.unsupported(Capability.WEBHOOKS)

    # -- scheduling, and recordings meetops serves itself (added with OpenTalk, issue 10) --------
    # Types in bot.providers.scheduling. Kept together at the end of the class to ease merging.

    async def schedule_meeting(self, plan: "MeetingPlan") -> "ScheduledMeeting":
        """A meeting at a date and time (repeating or not) with its own room; e-mail invitees are
        invited by the provider (one refused invitee is reported in `problems`, not raised)."""
        raise self.unsupported(Capability.SCHEDULING)

    def iter_upcoming(self, *, since: datetime, until: datetime) -> AsyncIterator["Occurrence"]:
        """Every occurrence of the scheduled meetings between `since` and `until`, repeats expanded."""
        raise self.unsupported(Capability.SCHEDULING)

    def open_recording(self, room: Room, recording_id: str) -> "RecordingDownload":
        """The file of a recording, fetched with the bot's credentials, for a provider whose recordings
        have no link of their own (meetops serves them through a signed, expiring URL). An async
        context manager: `async with provider.open_recording(room, id) as download: ...`."""
        raise self.unsupported(Capability.RECORDING_LINKS)

    @property
    def serves_recordings_through_meetops(self) -> bool:
        """True when `open_recording` is how this provider's recordings are reached (no `recording_link`)."""
        return False


# -- the plug-in -------------------------------------------------------------------------


class Emulator(Protocol):
    """A provider's local emulator (on the shared kit, `bot.sandbox.kit`), served on loopback."""

    url: str

    def client_settings(self) -> dict[str, Any]:
        """Settings values (field names of the plugin's settings model) that point its client here."""
        ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class ProviderPlugin:
    name: str  # registry key, URL segment (/webhooks/<name>) and MEETOPS_PROVIDER value
    title: str  # as people read it: "Eyeson"
    capabilities: Capabilities
    settings_model: type["BaseSettings"]  # its own env prefix
    # settings -> True when real credentials are configured (else it runs on its emulator)
    configured: Callable[[Any], bool]
    # (settings, transport or None) -> Provider
    build: Callable[..., Provider]
    # () -> a started Emulator on loopback
    start_emulator: Callable[[], Emulator]
    room_options: Mapping[str, str] = field(default_factory=dict)  # flag -> what it does
    setup_help: str = ""  # how to configure it, for the README
    # Words for the join reply when a link is not bound to one person.
    emulator_note: str = ""
    # A caveat on its live participant counts, said under /meet live ("counts people given a link too").
    live_note: str = ""
    # False when `iter_rooms` yields running meetings only (a platform that keeps no idle rooms): /meet rooms lists
    # meetops' own records of its rooms as well.
    lists_idle_rooms: bool = True


MeetingProvider = Provider  # the name handlers used before providers were plug-ins
