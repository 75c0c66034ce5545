"""The sandbox's world: rooms, sessions, people, polls, streams, recordings, webhooks.

Plain in-memory state for the life of the process, changed only from the server's event
loop (the control endpoints are the way to change it from a test). Operations enforce the
platform's rules and raise `SandboxError`s; request bodies are validated before they get
here. Anything that would make Digital Samba call a webhook is announced to subscribers as
an `Event`; the app's dispatcher turns those into deliveries.
"""

from __future__ import annotations

import itertools
import secrets
import string
from bisect import bisect_left, insort
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import NAMESPACE_URL, uuid4, uuid5

from .errors import Invalid, NotFound, Rejected
from .models import (
    ROOM_FLAG_DEFAULTS,
    Delivery,
    Event,
    Faults,
    LoggedRequest,
    Participant,
    Poll,
    PollOption,
    Recording,
    Restream,
    Room,
    SandboxConfig,
    Session,
    Summary,
    Vote,
    Webhook,
    iso,
)
from .validation import EXPIRES_AT_FORMAT, as_bool

# A stream key the sandbox's "destination" refuses, so the bot's refusal path can be tested.
REJECTED_STREAM_KEY = "invalid"

# Body fields never written to the request log.
SECRET_FIELDS = frozenset({"stream_key", "restream_key", "authorization_header"})

CANNED_SUMMARY = (
    "The team reviewed progress since the last meeting. The release candidate passed "
    "its checks and the rollout will start on Monday with a small group of customers.\n\n"
    "Decisions: keep the current pricing for the pilot; move the reporting work to the "
    "next cycle.\n\n"
    "Action items: Ada will prepare the rollout checklist; Grace will draft the customer "
    "announcement; Linus will follow up on the two open support tickets."
)

Listener = Callable[[Event], None]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if k in SECRET_FIELDS else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _random_friendly_url() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


def _session_key(session: Session) -> tuple[datetime, int]:
    return session.sort_key


class SandboxState:
    def __init__(
        self,
        *,
        team_id: str | None = None,
        developer_key: str | None = None,
        now: Callable[[], datetime] = utc_now,
    ):
        self.team_id = team_id or str(uuid4())
        self.developer_key = developer_key or secrets.token_hex(24)
        self.now = now
        self._listeners: list[Listener] = []
        self.reset()

    def reset(self) -> None:
        """Forget the world (rooms, sessions, logs, faults, config); keep identity, clock, subscribers."""
        self.rooms: dict[str, Room] = {}  # by id, in creation order
        self._rooms_by_url: dict[str, Room] = {}  # by lower-cased friendly_url
        self.sessions: dict[str, Session] = {}
        self.recording_rooms: dict[str, str] = {}  # room id -> the session being recorded
        # Sessions sorted by start time, overall and per room (deleted rooms included), so
        # a page or a date range out of tens of thousands is a bisect and a slice.
        self._sessions_by_start: list[Session] = []
        self._sessions_by_room: dict[str, list[Session]] = {}
        self._live: dict[str, Session] = {}  # room id -> its live session
        self.participants: dict[str, Participant] = {}
        self.polls: dict[str, Poll] = {}  # votes live on their poll
        self.restreams: dict[str, Restream] = {}  # room id -> its running restream
        self.webhooks: dict[str, Webhook] = {}
        self.recordings: dict[str, Recording] = {}
        self.summaries: dict[str, Summary] = {}  # session id -> its summary
        self.requests: list[LoggedRequest] = []
        self.deliveries: list[Delivery] = []
        self.faults = Faults()
        self.config = SandboxConfig()
        self._seq = itertools.count()

    # -- events -------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        event = Event(name, data, self.now())
        for listener in list(self._listeners):
            listener(event)

    # -- rooms --------------------------------------------------------------------------

    def find_room(self, ref: str) -> Room:
        """By id or friendly_url, as every `{room}` path parameter accepts either."""
        room = self.rooms.get(ref) or self._rooms_by_url.get(ref.lower())
        if room is None:
            raise NotFound("Room not found.")
        return room

    def friendly_url_taken(self, friendly_url: str, *, by: Room | None = None) -> bool:
        # Unique per team regardless of case, as under the platform's MySQL collation.
        owner = self._rooms_by_url.get(friendly_url.lower())
        return owner is not None and owner is not by

    def create_room(self, settings: Mapping[str, Any]) -> Room:
        now = self.now()
        friendly_url = _random_friendly_url()
        while self.friendly_url_taken(friendly_url):
            friendly_url = _random_friendly_url()
        room = Room(id=str(uuid4()), friendly_url=friendly_url, created_at=now, updated_at=now)
        self._apply_room_settings(room, settings)
        self.rooms[room.id] = room
        self._rooms_by_url[room.friendly_url.lower()] = room
        return room

    def update_room(self, room: Room, settings: Mapping[str, Any]) -> Room:
        del self._rooms_by_url[room.friendly_url.lower()]
        self._apply_room_settings(room, settings)
        self._rooms_by_url[room.friendly_url.lower()] = room
        room.updated_at = self.now()
        return room

    def _apply_room_settings(self, room: Room, settings: Mapping[str, Any]) -> None:
        """Store validated settings. An explicit null clears the optional ones (description,
        external id, tags, session length = unlimited, expiry) and leaves the others be."""
        if "description" in settings:
            room.description = settings["description"]
        if "external_id" in settings:
            room.external_id = settings["external_id"]
        if "tags" in settings:
            room.tags = list(settings["tags"] or [])
        if "session_length" in settings:
            length = settings["session_length"]
            room.session_length = None if length is None else int(length)
        if "expires_at" in settings:
            expires = settings["expires_at"]
            room.expires_at = (
                None if expires is None else datetime.strptime(expires, EXPIRES_AT_FORMAT).replace(tzinfo=timezone.utc)
            )
        for name in ("friendly_url", "privacy", "default_role"):
            if settings.get(name) is not None:
                setattr(room, name, settings[name])
        if settings.get("roles"):
            room.roles = list(settings["roles"])
        if settings.get("max_participants") is not None:
            room.max_participants = int(settings["max_participants"])
        for flag in ROOM_FLAG_DEFAULTS:
            if settings.get(flag) is not None:
                room.flags[flag] = as_bool(settings[flag])

    def delete_room(self, room: Room) -> None:
        live = self._live.get(room.id)
        if live is not None:
            self.end_session(live)
        room.deleted = True
        del self.rooms[room.id]
        del self._rooms_by_url[room.friendly_url.lower()]
        for poll_id in [p.id for p in self.polls.values() if p.room_id == room.id]:
            del self.polls[poll_id]

    # -- sessions and participants --------------------------------------------------------

    def find_session(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise NotFound("Session not found.")
        return session

    def live_session(self, room_id: str) -> Session | None:
        return self._live.get(room_id)

    def live_sessions(self) -> list[Session]:
        return list(self._live.values())

    def live_participants(self, room_id: str) -> list[Participant]:
        session = self._live.get(room_id)
        return list(session.live_participants.values()) if session else []

    def find_sessions(
        self,
        *,
        room_id: str | None = None,
        live: bool | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Sequence[Session]:
        """Sessions oldest first, optionally of one room, live or ended, starting in [start, end)."""
        if live:
            return sorted(
                (
                    s
                    for s in self._live.values()
                    if (room_id is None or s.room.id == room_id)
                    and (start is None or s.start_time >= start)
                    and (end is None or s.start_time < end)
                ),
                key=_session_key,
            )
        pool = self._sessions_by_room.get(room_id, []) if room_id else self._sessions_by_start
        lo = 0 if start is None else bisect_left(pool, (start,), key=_session_key)
        hi = len(pool) if end is None else bisect_left(pool, (end,), key=_session_key)
        if live is None:
            return pool[lo:hi]
        return [s for s in pool[lo:hi] if not s.live]

    def _index_session(self, session: Session) -> None:
        self.sessions[session.id] = session
        insort(self._sessions_by_start, session, key=_session_key)
        insort(self._sessions_by_room.setdefault(session.room.id, []), session, key=_session_key)

    def join(self, room: Room, *, name: str, role: str | None = None, external_id: str | None = None) -> Participant:
        """Someone enters the room, starting its session if nobody is there."""
        session = self._live.get(room.id)
        if session is not None and len(session.live_participants) >= room.max_participants:
            raise Rejected("The room is full.")
        if session is None:
            session = self._start_session(room)
        participant = Participant(
            id=str(uuid4()),
            session_id=session.id,
            name=name,
            role=role or room.default_role,
            join_time=self.now(),
            external_id=external_id,
        )
        session.live_participants[participant.id] = participant
        session.participants_total += 1
        session.participants_max = max(session.participants_max, len(session.live_participants))
        self.participants[participant.id] = participant
        self._emit("participant_joined", self._participant_event_data(session, participant))
        return participant

    def _start_session(self, room: Room) -> Session:
        session = Session(id=str(uuid4()), room=room, seq=next(self._seq), start_time=self.now())
        self._index_session(session)
        self._live[room.id] = session
        self._emit("session_started", self._session_event_data(session))
        return session

    def leave(self, participant: Participant) -> None:
        """Someone leaves; the session ends with its last participant, as on the platform."""
        session = self.sessions[participant.session_id]
        if session.live_participants.pop(participant.id, None) is None:
            raise Rejected("The participant is not in the session.")
        participant.leave_time = self.now()
        self._emit("participant_left", self._participant_event_data(session, participant))
        if not session.live_participants:
            self.end_session(session)

    def end_session(self, session: Session) -> None:
        if not session.live:
            raise Rejected("The session is not live.")
        now = self.now()
        for participant in list(session.live_participants.values()):
            participant.leave_time = now
            self._emit("participant_left", self._participant_event_data(session, participant))
        session.live_participants.clear()
        session.end_time = now
        del self._live[session.room.id]
        self.restreams.pop(session.room.id, None)
        # A recording ends with its session and is stored (recording_ready after session_ended, below): left
        # running, the room stayed "being recorded" for good and the meeting's recording was never made.
        recorded = self.recording_rooms.pop(session.room.id, None) == session.id
        for poll in self.polls.values():
            if poll.session_id == session.id and poll.status == "started":
                poll.status, poll.ended = "ended", now
        if session.room.flags["transcription_enabled"]:
            self.summaries[session.id] = Summary(job_id=str(uuid4()), session_id=session.id)
        self._emit("session_ended", self._session_event_data(session))
        if recorded:
            self.create_recording(session)

    def add_history(
        self,
        room: Room,
        *,
        start_time: datetime,
        duration: timedelta,
        interval: timedelta,
        count: int,
        participants: int,
        transcribed: bool,
        summary: str | None,
    ) -> list[Session]:
        """Bulk-make ended sessions (no webhooks: they happened before anyone listened)."""
        made = []
        for index in range(count):
            start = start_time + index * interval
            session = Session(
                id=str(uuid4()),
                room=room,
                seq=next(self._seq),
                start_time=start,
                end_time=start + duration,
                participants_total=participants,
                participants_max=participants,
            )
            self.sessions[session.id] = session
            if transcribed:
                self.summaries[session.id] = Summary(
                    job_id=str(uuid4()),
                    session_id=session.id,
                    status="IN_PROGRESS" if summary is None else "READY",
                    text=summary or "",
                )
            made.append(session)
        # One sort instead of thousands of inserts keeps 20,000 sessions well under a second.
        self._sessions_by_start.extend(made)
        self._sessions_by_start.sort(key=_session_key)
        by_room = self._sessions_by_room.setdefault(room.id, [])
        by_room.extend(made)
        by_room.sort(key=_session_key)
        return made

    def _session_event_data(self, session: Session) -> dict[str, Any]:
        return {
            "room_id": session.room.id,
            "session_id": session.id,
            "friendly_url": session.room.friendly_url,
            "start_time": iso(session.start_time),
            "end_time": iso(session.end_time),
            "participants_total": session.participants_total,
        }

    def _participant_event_data(self, session: Session, participant: Participant) -> dict[str, Any]:
        return {
            "room_id": session.room.id,
            "session_id": session.id,
            "participant_id": participant.id,
            "name": participant.name,
            "role": participant.role,
        }

    # -- summaries ----------------------------------------------------------------------

    def read_summary(self, session: Session) -> Summary:
        """GET /sessions/{id}/summary: counts the read, which may make the summary READY."""
        summary = self.summaries.get(session.id)
        if summary is None:
            raise NotFound("No transcript is available for this session.")
        summary.reads += 1
        ready_after = self.config.summary_ready_after_polls
        if summary.status == "IN_PROGRESS" and ready_after is not None and summary.reads > ready_after:
            self.complete_summary(session, CANNED_SUMMARY)
        return summary

    def complete_summary(self, session: Session, text: str) -> Summary:
        """Make the session's summary READY with `text` (making one if it had none)."""
        if session.live:
            raise Rejected("The session is still live.")
        summary = self.summaries.get(session.id)
        if summary is None:
            summary = self.summaries[session.id] = Summary(job_id=str(uuid4()), session_id=session.id)
        summary.status, summary.text = "READY", text
        self._emit(
            "session_summary_ready",
            {"room_id": session.room.id, "session_id": session.id, "job_id": summary.job_id},
        )
        return summary

    # -- polls --------------------------------------------------------------------------

    def create_poll(
        self, room: Room, *, question: str | None, type: str, anonymous: bool, option_texts: list[str]
    ) -> Poll:
        poll = Poll(
            id=str(uuid4()),
            room_id=room.id,
            question=question,
            type=type,
            anonymous=anonymous,
            options=[PollOption(id=str(uuid4()), text=text) for text in option_texts],
            created_at=self.now(),
        )
        self.polls[poll.id] = poll
        return poll

    def find_poll(self, poll_id: str, room: Room | None = None) -> Poll:
        poll = self.polls.get(poll_id)
        if poll is None or (room is not None and poll.room_id != room.id):
            raise NotFound("Poll not found.")
        return poll

    def vote(self, poll: Poll, *, voter: str, choice: str) -> Vote:
        """A vote for an option (by id or text), or a free-text answer.

        The first vote launches the poll in the room's live session, as if a moderator had
        started it there; single-choice polls keep each voter's latest choice only.
        """
        if poll.status == "ended":
            raise Rejected("The poll has ended.")
        if poll.type == "free":
            option_id, answer = None, choice
        else:
            option_id, answer = self._poll_option(poll, choice).id, None
        voter_id = self._voter_id(poll, voter)
        if poll.status == "created":
            live = self._live.get(poll.room_id)
            poll.status, poll.started = "started", self.now()
            poll.session_id = live.id if live else None
        if poll.type == "single":
            poll.votes = [v for v in poll.votes if v.voter_id != voter_id]
        for vote in poll.votes:
            if vote.voter_id == voter_id and (vote.option_id, vote.answer) == (option_id, answer):
                return vote
        vote = Vote(voter_id=voter_id, voter_name=voter, option_id=option_id, answer=answer)
        poll.votes.append(vote)
        return vote

    def _poll_option(self, poll: Poll, choice: str) -> PollOption:
        for option in poll.options:
            if choice in (option.id, option.text):
                return option
        for option in poll.options:
            if choice.casefold() == option.text.casefold():
                return option
        raise Invalid({"option": ["The selected option is invalid."]})

    def _voter_id(self, poll: Poll, name: str) -> str:
        # A voter in the room is that participant; anyone else gets a stable made-up id.
        live = self._live.get(poll.room_id)
        if live is not None:
            for participant in live.live_participants.values():
                if participant.name == name:
                    return participant.id
        return str(uuid5(NAMESPACE_URL, f"sandbox-voter:{poll.id}:{name}"))

    # -- restreaming --------------------------------------------------------------------

    def start_restream(self, room: Room, *, destination: str, stream_key: str) -> Restream:
        session = self._live.get(room.id)
        if session is None:
            raise Rejected("The room has no live session.")
        if room.id in self.restreams:
            raise Rejected("The room is already restreaming.")
        if stream_key == REJECTED_STREAM_KEY:
            raise Rejected("The stream key was rejected by the destination.")
        restream = Restream(room_id=room.id, session_id=session.id, destination=destination, started_at=self.now())
        self.restreams[room.id] = restream
        return restream

    def start_recording(self, room: Room) -> None:
        session = self._live.get(room.id)
        if session is None:
            raise Rejected("The room has no live session.")
        if room.id in self.recording_rooms:
            raise Rejected("The room is already being recorded.")
        self.recording_rooms[room.id] = session.id

    def stop_recording(self, room: Room) -> Recording:
        session_id = self.recording_rooms.pop(room.id, None)
        if session_id is None:
            raise Rejected("The room is not being recorded.")
        return self.create_recording(self.sessions[session_id])

    def stop_restream(self, room: Room) -> None:
        if self.restreams.pop(room.id, None) is None:
            raise Rejected("The room is not restreaming.")

    # -- webhooks -----------------------------------------------------------------------

    def create_webhook(
        self, *, endpoint: str, events: list[str], name: str | None, authorization_header: str | None
    ) -> Webhook:
        now = self.now()
        webhook = Webhook(
            id=str(uuid4()),
            endpoint=endpoint,
            events=list(dict.fromkeys(events)),
            created_at=now,
            updated_at=now,
            name=name,
            authorization_header=authorization_header,
        )
        self.webhooks[webhook.id] = webhook
        return webhook

    def find_webhook(self, webhook_id: str) -> Webhook:
        webhook = self.webhooks.get(webhook_id)
        if webhook is None:
            raise NotFound("Webhook not found.")
        return webhook

    def delete_webhook(self, webhook: Webhook) -> None:
        del self.webhooks[webhook.id]

    # -- recordings ---------------------------------------------------------------------

    def create_recording(self, session: Session, name: str | None = None) -> Recording:
        recording = Recording(
            id=str(uuid4()),
            name=name or f"{session.room.friendly_url} {session.start_time:%Y-%m-%d %H:%M}",
            room=session.room,
            session_id=session.id,
            created_at=self.now(),
        )
        self.recordings[recording.id] = recording
        self._emit(
            "recording_ready",
            {"room_id": session.room.id, "session_id": session.id, "recording_id": recording.id},
        )
        return recording

    def find_recording(self, recording_id: str) -> Recording:
        recording = self.recordings.get(recording_id)
        if recording is None:
            raise NotFound("Recording not found.")
        return recording

    # -- the sandbox's own bookkeeping ------------------------------------------------------

    def log_request(self, method: str, path: str, query: dict[str, str], body: Any) -> LoggedRequest:
        entry = LoggedRequest(method=method, path=path, query=query, json=redact(body))
        self.requests.append(entry)
        return entry

    def requests_matching(self, method: str, path: str) -> list[LoggedRequest]:
        """Logged API calls with this method whose path ends with `path`: a full path matches
        exactly, a tail like "/end" matches that call on any session."""
        return [r for r in self.requests if r.method == method.upper() and r.path.endswith(path)]

    def snapshot(self) -> dict[str, Any]:
        summaries = [s.status for s in self.summaries.values()]
        return {
            "team_id": self.team_id,
            "now": iso(self.now()),
            "rooms": len(self.rooms),
            "sessions": len(self.sessions),
            "live_sessions": len(self._live),
            "live_participants": sum(len(s.live_participants) for s in self._live.values()),
            "participants": len(self.participants),
            "polls": len(self.polls),
            "votes": sum(len(p.votes) for p in self.polls.values()),
            "restreams": len(self.restreams),
            "webhooks": len(self.webhooks),
            "recordings": len(self.recordings),
            "summaries": {status: summaries.count(status) for status in ("IN_PROGRESS", "READY")},
            "requests": len(self.requests),
            "deliveries": len(self.deliveries),
            "faults": asdict(self.faults),
            "config": asdict(self.config),
        }
