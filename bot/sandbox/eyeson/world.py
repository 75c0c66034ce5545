"""The Eyeson emulator's world: meetings that exist only while someone is in them, their users and
access keys, one broadcast per meeting, recordings, snapshots and the single webhook of the API key.

Modelled on Eyeson's docs and SDKs (see `shared/providers/eyeson.md`): `POST /rooms` starts a meeting
(or joins the running one with that room id) and registers a user with a personal access key; a user
counts as online once they open their link (`GET /app/?<access key>`) or a sim `join` says so; the
meeting shuts down when the last person leaves (or when nobody came within `idle_seconds`), after
which its access keys answer 410.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.sandbox.kit import Refusal, World
from bot.sandbox.kit.world import REDACTED, LoggedRequest

FEATURES = ("recording", "broadcast", "snapshot")  # what an account (or a meeting's options) may disable
OPTION_OF = {"recording": "recording_available", "broadcast": "broadcast_available"}
DOWNLOAD_LIFETIME = timedelta(minutes=10)  # Eyeson's download links expire; this emulator's do too


def new_id() -> str:
    return secrets.token_hex(12)  # Eyeson's ids are 24-hex ObjectIds


def _access_key() -> str:
    return secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")[:24]


@dataclass
class User:
    id: str
    name: str
    avatar: str | None
    access_key: str
    online: bool = False
    guest: bool = False

    def present(self, room_id: str) -> dict[str, Any]:
        return {"id": self.id, "room_id": room_id, "name": self.name, "avatar": self.avatar, "guest": self.guest,
                "online": self.online}


@dataclass
class Meeting:
    room_id: str
    name: str
    started_at: datetime
    options: dict[str, str]
    guest_token: str | None
    users: dict[str, User] = field(default_factory=dict)  # by user id
    shutdown: bool = False
    broadcast_url: str | None = None  # a secret: the stream key is inside
    recording_id: str | None = None   # the recording running now
    idle_since: datetime | None = None

    def online(self) -> list[User]:
        return [user for user in self.users.values() if user.online]

    def allows(self, feature: str) -> bool:
        option = OPTION_OF.get(feature)
        return option is None or self.options.get(option, "true").lower() != "false"

    def info(self) -> dict[str, Any]:
        return {"id": self.room_id, "name": self.name, "ready": True, "started_at": self.started_at.isoformat(),
                "shutdown": self.shutdown, "guest_token": self.guest_token}


@dataclass
class RecordingFile:
    id: str
    room_id: str
    room_name: str
    room_started_at: datetime
    created_at: datetime
    user_id: str
    duration: int | None = None
    finished: bool = False


@dataclass
class Snapshot:
    id: str
    room_id: str
    created_at: datetime
    name: str


@dataclass
class Webhook:
    id: str
    url: str
    types: list[str]


class EyesonWorld(World):
    secret_fields = frozenset({"stream_url"})  # the stream key is inside

    def __init__(self, api_key: str | None = None, clock=None, idle_seconds: float = 300.0):
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.base_url = ""  # set once the server's address is known
        self.idle_seconds = idle_seconds
        self._download_secret = secrets.token_bytes(16)
        self.meetings: dict[str, Meeting] = {}     # running, by room id
        self.access_keys: dict[str, tuple[Meeting, str]] = {}  # key -> (meeting, user id), ended ones too
        self.recordings: dict[str, RecordingFile] = {}
        self.snapshots: dict[str, Snapshot] = {}
        self.webhook: Webhook | None = None
        self.disabled: set[str] = set()  # features turned off for the whole account
        super().__init__(clock)

    # -- the kit's hooks ------------------------------------------------------------------

    def sign_webhook(self, body: bytes) -> dict[str, str]:
        return {"X-Eyeson-Signature": hmac.new(self.api_key.encode(), body, hashlib.sha256).hexdigest()}

    def log_request(self, method: str, path: str, query: dict[str, str], body: Any,
                    headers: dict[str, str] | None = None) -> LoggedRequest:
        # Access keys are credentials and travel in paths (and in the GUI link's query): hide them.
        path = "/".join(REDACTED if segment in self.access_keys else segment for segment in path.split("/"))
        query = {(REDACTED if k in self.access_keys else k): v for k, v in query.items()}
        return super().log_request(method, path, query, body, headers)

    def reset(self) -> None:
        super().reset()
        self.meetings.clear()
        self.access_keys.clear()
        self.recordings.clear()
        self.snapshots.clear()
        self.webhook = None
        self.disabled.clear()

    def snapshot(self) -> dict[str, Any]:
        self.sweep()
        return {
            "meetings": [{"id": m.room_id, "name": m.name, "started_at": m.started_at.isoformat(),
                          "online": [u.name for u in m.online()], "registered": len(m.users),
                          "broadcasting": m.broadcast_url is not None, "recording": m.recording_id is not None,
                          "private": m.guest_token is None}
                         for m in self.meetings.values()],
            "recordings": len(self.recordings),
            "snapshots": len(self.snapshots),
            "webhook": {"url": self.webhook.url, "types": self.webhook.types} if self.webhook else None,
            "disabled": sorted(self.disabled),
        }

    # -- keys and meetings ----------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        return bool(header) and hmac.compare_digest(header.encode(), self.api_key.encode())

    def sweep(self) -> None:
        """Shut down meetings nobody came to (Eyeson: 'it will shut down soon automatically')."""
        now = self.now()
        for meeting in list(self.meetings.values()):
            if not meeting.online() and meeting.idle_since is not None and \
                    (now - meeting.idle_since).total_seconds() >= self.idle_seconds:
                self.shut_down(meeting)

    def by_key(self, key: str) -> tuple[Meeting, User]:
        """The meeting and user of an access key: 404 if unknown, 410 once its meeting is over."""
        self.sweep()
        found = self.access_keys.get(key)
        if found is None:
            raise Refusal(404, "Resource does not exist or expired.")
        meeting, user_id = found
        if meeting.shutdown:
            raise Refusal(410, "Gone.")
        return meeting, meeting.users[user_id]

    def running(self, room_id: str) -> Meeting:
        self.sweep()
        meeting = self.meetings.get(room_id)
        if meeting is None:
            raise Refusal(404, "Resource does not exist or expired.")
        return meeting

    def join(self, room_id: str | None, room_name: str | None, user_id: str | None, user_name: str,
             avatar: str | None, options: dict[str, str]) -> tuple[Meeting, User]:
        """`POST /rooms`: start the meeting (or join the running one) and register the user."""
        self.sweep()
        room_id = room_id or new_id()
        meeting = self.meetings.get(room_id)
        if meeting is None:
            private = options.get("guest_token_available", "true").lower() == "false"
            meeting = Meeting(room_id=room_id, name=room_name or room_id, started_at=self.now(), options=options,
                              guest_token=None if private else _access_key(), idle_since=self.now())
            self.meetings[room_id] = meeting
            self.deliver("room_update", {"room": meeting.info()})
        user_id = user_id or new_id()
        user = User(id=user_id, name=user_name, avatar=avatar, access_key=_access_key())
        old = meeting.users.get(user_id)
        if old is not None:
            user.online = old.online
        meeting.users[user_id] = user
        self.access_keys[user.access_key] = (meeting, user_id)
        return meeting, user

    def come_online(self, meeting: Meeting, user: User) -> None:
        user.online = True
        meeting.idle_since = None

    def go_offline(self, meeting: Meeting, user: User) -> None:
        user.online = False
        if not meeting.online():
            self.shut_down(meeting)  # the last person left

    def shut_down(self, meeting: Meeting) -> None:
        if meeting.shutdown:
            return
        if meeting.recording_id is not None:
            self.finish_recording(meeting)
        meeting.broadcast_url = None
        meeting.shutdown = True
        for user in meeting.users.values():
            user.online = False
        self.meetings.pop(meeting.room_id, None)
        self.deliver("room_update", {"room": meeting.info()})

    def feature_allowed(self, meeting: Meeting, feature: str) -> None:
        if feature in self.disabled or not meeting.allows(feature):
            raise Refusal(405, "Method not allowed.")

    # -- recordings and snapshots -----------------------------------------------------------

    def start_recording(self, meeting: Meeting, user: User) -> RecordingFile:
        self.feature_allowed(meeting, "recording")
        if meeting.recording_id is not None:
            raise Refusal(406, "Not acceptable.")
        recording = RecordingFile(id=new_id(), room_id=meeting.room_id, room_name=meeting.name,
                                  room_started_at=meeting.started_at, created_at=self.now(), user_id=user.id)
        self.recordings[recording.id] = recording
        meeting.recording_id = recording.id
        self.deliver("recording_update", {"recording": self.present_recording(recording, with_link=False)})
        return recording

    def finish_recording(self, meeting: Meeting) -> RecordingFile | None:
        """Stop the running recording: Eyeson tells 'stopped' (duration set), then 'finished' (link set)."""
        recording = self.recordings.get(meeting.recording_id or "")
        meeting.recording_id = None
        if recording is None:
            return None
        recording.duration = max(1, int((self.now() - recording.created_at).total_seconds()))
        self.deliver("recording_update", {"recording": self.present_recording(recording, with_link=False)})
        recording.finished = True
        self.deliver("recording_update", {"recording": self.present_recording(recording)})
        return recording

    def download_link(self, kind: str, item_id: str) -> str:
        expires = int((self.now() + DOWNLOAD_LIFETIME).timestamp())
        token = hmac.new(self._download_secret, f"{kind}:{item_id}:{expires}".encode(), hashlib.sha256).hexdigest()
        return f"{self.base_url}/downloads/{kind}/{item_id}?expires={expires}&signature={token[:32]}"

    def check_download(self, kind: str, item_id: str, expires: str, signature: str) -> None:
        expected = hmac.new(self._download_secret, f"{kind}:{item_id}:{expires}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.encode(), expected[:32].encode()):
            raise Refusal(403, "Forbidden.")
        if not expires.isdigit() or int(expires) < self.now().timestamp():
            raise Refusal(410, "This link has expired.")

    def present_recording(self, recording: RecordingFile, *, with_link: bool = True) -> dict[str, Any]:
        download = self.download_link("recordings", recording.id) if with_link and recording.finished else None
        return {"id": recording.id, "created_at": int(recording.created_at.timestamp()),
                "duration": recording.duration,
                "links": {"self": f"{self.base_url}/recordings/{recording.id}", "download": download},
                "user": {"id": recording.user_id},
                "room": {"id": recording.room_id, "name": recording.room_name,
                         "started_at": recording.room_started_at.isoformat()}}

    def take_snapshot(self, meeting: Meeting) -> Snapshot:
        self.feature_allowed(meeting, "snapshot")
        shot = Snapshot(id=new_id(), room_id=meeting.room_id, created_at=self.now(),
                        name=f"{meeting.name}-{self.now():%Y%m%d-%H%M%S}")
        self.snapshots[shot.id] = shot
        return shot

    def present_snapshot(self, shot: Snapshot) -> dict[str, Any]:
        return {"id": shot.id, "name": shot.name, "created_at": shot.created_at.isoformat(),
                "links": {"download": self.download_link("snapshots", shot.id)},
                "room": {"id": shot.room_id}}

    # -- webhooks -----------------------------------------------------------------------------

    def deliver(self, kind: str, payload: dict[str, Any]) -> None:
        if self.webhook is None or kind not in self.webhook.types:
            return
        body = json.dumps({"timestamp": int(self.now().timestamp()), "type": kind, **payload}).encode()
        self.outbox.send(self.webhook.url, kind, body)

    # -- the console's sim verbs -------------------------------------------------------------

    def _person(self, meeting: Meeting, name: str) -> User | None:
        wanted = name.strip().lower()
        return next((u for u in meeting.users.values()
                     if u.name.lower() == wanted or u.name.lower().split(" ")[0] == wanted), None)

    def sim_join(self, room: str, name: str) -> Any:
        """Someone opens their link: they are in the meeting (started if it wasn't running)."""
        self.sweep()
        meeting = self.meetings.get(room)
        user = self._person(meeting, name) if meeting is not None else None
        if user is None:
            meeting, user = self.join(room, None, f"sim:{name}", name, None, {})
        self.come_online(meeting, user)
        return {"room": room, "online": len(meeting.online())}

    def sim_leave(self, room: str, name: str) -> Any:
        meeting = self.running(room)
        user = self._person(meeting, name) if name else next(iter(meeting.online()), None)
        if user is None or not user.online:
            raise Refusal(404, f"Nobody called {name or 'that'} is in the meeting.")
        self.go_offline(meeting, user)
        return {"room": room, "online": len(meeting.online()), "ended": meeting.shutdown}

    def sim_end(self, room: str) -> Any:
        self.shut_down(self.running(room))
        return {"room": room, "ended": True}

    def sim_recording(self, room: str) -> Any:
        """A recording of the room becomes ready (the running one stops; else a short one appears)."""
        self.sweep()
        meeting = self.meetings.get(room)
        if meeting is not None and meeting.recording_id is not None:
            recording = self.finish_recording(meeting)
        else:
            past = [r for r in self.recordings.values() if r.room_id == room]
            if meeting is None and not past:
                raise Refusal(404, f"No meeting has run in {room}.")
            name = meeting.name if meeting else past[-1].room_name
            started = meeting.started_at if meeting else past[-1].room_started_at
            recording = RecordingFile(id=new_id(), room_id=room, room_name=name, room_started_at=started,
                                      created_at=self.now() - timedelta(minutes=5), user_id="sim", duration=300)
            self.recordings[recording.id] = recording
            recording.finished = True
            self.deliver("recording_update", {"recording": self.present_recording(recording)})
        assert recording is not None
        return {"room": room, "recording": recording.id}

    def sim_summary(self, room: str) -> Any:
        raise Refusal(422, "Eyeson has no AI summaries.")
