"""The Chalk emulator's world: one tenant, its tokens, rooms, participants, recordings and post-meeting
webhook, answering as Chalk's legacy API code does (see `../shared/providers/chalk.md` §1–§3)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt

from bot.sandbox.kit import Refusal, World

API_PREFIX = "/api/v1"


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@dataclass
class ChalkRoom:
    id: str
    name: str
    config: dict[str, Any]
    status: str  # scheduled | active | ended
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    recording_id: str | None = None  # the recording running now


@dataclass
class ChalkParticipant:
    id: str
    room_id: str
    display_name: str
    external_user_id: str | None
    role: str
    created_at: datetime
    joined_at: datetime | None = None  # opened the meeting page (or joined by `sim join`)
    left_at: datetime | None = None


@dataclass
class ChalkRecording:
    id: str
    room_id: str
    status: str  # recording | processing | ready
    started_at: datetime
    stopped_at: datetime | None = None
    summary: str | None = None
    action_items: list[str] = field(default_factory=list)


@dataclass
class WebhookConfig:
    enabled: bool = False
    url: str = ""
    secret: str = ""
    include_recording: bool = True
    include_transcript: bool = False
    include_summary: bool = True
    include_action_items: bool = True


SIM_SUMMARY = ("The team reviewed the release plan, agreed to ship on Thursday and moved the database "
               "migration to next week.")
SIM_ACTION_ITEMS = ["Ada writes the release notes", "Grace checks the migration on staging"]


class ChalkWorld(World):
    secret_fields = frozenset({"api_key", "refresh_token", "access_token", "auth_token", "secret"})

    def __init__(self, api_key: str | None = None, clock=None):
        super().__init__(clock)
        self.tenant_id = str(uuid.uuid4())
        self.api_key = api_key or "ck_test_" + secrets.token_urlsafe(24)
        self._signing = secrets.token_bytes(32)
        self.base_url = ""  # set when served, for the recordings' download links
        self._fresh()

    def log_request(self, method: str, path: str, query: dict[str, str], body: Any, headers=None):
        # The meeting page's address carries a person's token: never kept in the request log.
        query = {k: ("***" if k in self.secret_fields or k == "token" else v) for k, v in query.items()}
        return super().log_request(method, path, query, body, headers)

    def _fresh(self) -> None:
        self.token_ttl_seconds = 3600
        self.tenant_tokens: dict[str, datetime] = {}   # access token -> expiry
        self.refresh_tokens: dict[str, datetime] = {}  # refresh token -> expiry
        self.participant_tokens: dict[str, str] = {}   # access token -> participant id
        self.rooms: dict[str, ChalkRoom] = {}
        self.participants: dict[str, ChalkParticipant] = {}
        self.recordings: dict[str, ChalkRecording] = {}
        self.webhook = WebhookConfig()
        self.exchanges = self.refreshes = 0

    def reset(self) -> None:
        super().reset()
        self._fresh()

    # -- tokens ------------------------------------------------------------------------

    def _jwt(self, claims: dict[str, Any], lifetime: timedelta) -> str:
        now = self.now()
        return jwt.encode({**claims, "iat": int(now.timestamp()), "exp": int((now + lifetime).timestamp()),
                           "jti": secrets.token_hex(8)}, self._signing, algorithm="HS256")

    def _tenant_pair(self) -> dict[str, Any]:
        ttl = timedelta(seconds=self.token_ttl_seconds)
        access = self._jwt({"tenant_id": self.tenant_id, "role": "host", "sub": "tenant"}, ttl)
        refresh = secrets.token_urlsafe(32)
        self.tenant_tokens[access] = self.now() + ttl
        self.refresh_tokens[refresh] = self.now() + timedelta(days=7)
        return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
                "expires_in": self.token_ttl_seconds}

    def exchange(self, api_key: Any) -> dict[str, Any]:
        if not isinstance(api_key, str) or not hmac.compare_digest(api_key.encode(), self.api_key.encode()):
            raise Refusal(401, "invalid api key")
        self.exchanges += 1
        return self._tenant_pair()

    def refresh(self, refresh_token: Any) -> dict[str, Any]:
        expiry = self.refresh_tokens.pop(refresh_token, None) if isinstance(refresh_token, str) else None
        if expiry is None or expiry <= self.now():
            raise Refusal(401, "invalid refresh token")
        self.refreshes += 1
        return self._tenant_pair()

    def tenant_token_valid(self, token: str) -> bool:
        expiry = self.tenant_tokens.get(token)
        return expiry is not None and expiry > self.now()

    def expire_tenant_tokens(self) -> int:
        """Chalk stops taking every tenant token issued so far (the client still thinks they are good)."""
        past = self.now() - timedelta(seconds=1)
        for token in self.tenant_tokens:
            self.tenant_tokens[token] = past
        return len(self.tenant_tokens)

    def _participant_tokens(self, participant: ChalkParticipant) -> dict[str, Any]:
        ttl = timedelta(hours=1)
        access = self._jwt({"tenant_id": self.tenant_id, "room_id": participant.room_id,
                            "participant_id": participant.id, "role": participant.role}, ttl)
        self.participant_tokens[access] = participant.id
        return {"access_token": access, "refresh_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                "expires_in": 3600, "auth_token": "rtk_" + secrets.token_urlsafe(24)}

    # -- rooms -------------------------------------------------------------------------

    def room_json(self, room: ChalkRoom, *, with_count: bool = False) -> dict[str, Any]:
        data = {"id": room.id, "tenant_id": self.tenant_id, "cloudflare_meeting_id": "cf-" + room.id[:8],
                "name": room.name,
                # Go marshals the []byte config as base64, as Chalk's code does.
                "config": _b64(json.dumps(room.config)), "status": room.status,
                "started_at": iso(room.started_at), "ended_at": iso(room.ended_at),
                "created_at": iso(room.created_at), "scheduled_start_at": None}
        if with_count:
            data["active_participant_count"] = self.active_count(room)
        return data

    def create_room(self, body: dict[str, Any]) -> ChalkRoom:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise Refusal(400, "name is required")
        if any(r.name == name for r in self.rooms.values()):
            raise Refusal(409, "room with this name already exists")
        config = body.get("config") if isinstance(body.get("config"), dict) else {}
        try:
            maximum = int(config.get("max_participants") or 0)
        except (TypeError, ValueError):
            raise Refusal(400, "invalid config") from None
        room = ChalkRoom(id=str(uuid.uuid4()), name=name,
                         config={"max_participants": maximum, "recording_enabled": bool(config.get("recording_enabled", True)),
                                 "chat_enabled": bool(config.get("chat_enabled", True))},
                         status="active", created_at=self.now(), started_at=self.now())
        self.rooms[room.id] = room
        return room

    def find_room(self, ref: str) -> ChalkRoom:
        room = self.rooms.get(ref) or next((r for r in self.rooms.values() if r.name == ref), None)
        if room is None:
            raise Refusal(404, "room not found")
        return room

    def list_rooms(self, statuses: set[str], limit: int, offset: int) -> dict[str, Any]:
        rooms = sorted((r for r in self.rooms.values() if r.status in statuses),
                       key=lambda r: r.created_at, reverse=True)
        page = rooms[offset:offset + limit]
        return {"rooms": [self.room_json(r, with_count=True) for r in page], "total": len(rooms),
                "limit": limit, "offset": offset}

    def end_room(self, room: ChalkRoom) -> ChalkRoom:
        if room.status != "active":
            raise Refusal(400, "room is not active")
        if room.recording_id:
            self.stop_recording(room)
        room.status, room.ended_at = "ended", self.now()
        for participant in self.active_participants(room):
            participant.left_at = self.now()
        return room

    def delete_room(self, room: ChalkRoom) -> None:
        del self.rooms[room.id]
        for pid in [p.id for p in self.participants.values() if p.room_id == room.id]:
            del self.participants[pid]

    # -- participants --------------------------------------------------------------------

    def active_participants(self, room: ChalkRoom) -> list[ChalkParticipant]:
        return [p for p in self.participants.values() if p.room_id == room.id and p.left_at is None]

    def active_count(self, room: ChalkRoom) -> int:
        """As Chalk counts: every participant not yet gone, whether or not they opened their link."""
        return len(self.active_participants(room))

    def participant_json(self, participant: ChalkParticipant) -> dict[str, Any]:
        return {"id": participant.id, "room_id": participant.room_id,
                "cloudflare_participant_id": "cfp-" + participant.id[:8],
                "external_user_id": participant.external_user_id, "display_name": participant.display_name,
                "role": participant.role, "joined_at": iso(participant.joined_at or participant.created_at),
                "left_at": iso(participant.left_at), "created_at": iso(participant.created_at), "metadata": None}

    def _admit(self, room: ChalkRoom, entry: dict[str, Any]) -> ChalkParticipant:
        name = entry.get("display_name")
        if not isinstance(name, str) or not name.strip():
            raise Refusal(400, "display_name is required")
        if room.status != "active":
            raise Refusal(400, "room is not active")
        maximum = int(room.config.get("max_participants") or 0)
        if maximum and self.active_count(room) >= maximum:
            raise Refusal(400, "room is full")
        role = "host" if entry.get("role") == "host" else "participant"
        external = entry.get("external_user_id")
        participant = ChalkParticipant(id=str(uuid.uuid4()), room_id=room.id, display_name=name.strip(),
                                       external_user_id=str(external) if external else None, role=role,
                                       created_at=self.now())
        self.participants[participant.id] = participant
        return participant

    def add_participant(self, room: ChalkRoom, body: dict[str, Any]) -> dict[str, Any]:
        participant = self._admit(room, body)
        return {"participant": self.participant_json(participant),
                "room": {"id": room.id, "name": room.name, "status": room.status}, "room_created": False,
                "tenant_config": {"transcription_enabled": False, "first_participant_is_host": False,
                                  "force_recording": False, "allow_early_join": False},
                **self._participant_tokens(participant), "should_start_recording": False}

    def bulk_add(self, room: ChalkRoom, body: dict[str, Any]) -> dict[str, Any]:
        entries = body.get("participants")
        if not isinstance(entries, list) or not entries:
            raise Refusal(400, "participants is required")
        if room.status != "active":
            raise Refusal(400, "room is not active")
        results = []
        for entry in entries:
            entry = entry if isinstance(entry, dict) else {}
            echo = {"external_user_id": entry.get("external_user_id"), "display_name": entry.get("display_name")}
            try:
                participant = self._admit(room, entry)
            except Refusal as refusal:
                results.append({**echo, "success": False, "error": refusal.message})
                continue
            tokens = self._participant_tokens(participant)
            results.append({"participant_id": participant.id, **echo, "success": True,
                            "access_token": tokens["access_token"], "auth_token": tokens["auth_token"]})
        return {"results": results}

    def find_participant(self, room: ChalkRoom, pid: str) -> ChalkParticipant:
        participant = self.participants.get(pid)
        if participant is None or participant.room_id != room.id:
            raise Refusal(404, "participant not found")
        return participant

    def refresh_participant(self, room: ChalkRoom, pid: str) -> dict[str, Any]:
        return self._participant_tokens(self.find_participant(room, pid))

    def kick(self, room: ChalkRoom, pid: str) -> dict[str, Any]:
        participant = self.find_participant(room, pid)
        participant.left_at = participant.left_at or self.now()
        for token in [t for t, p in self.participant_tokens.items() if p == pid]:
            del self.participant_tokens[token]
        return self.participant_json(participant)

    def open_page(self, room_ref: str, token: str) -> tuple[ChalkRoom, ChalkParticipant]:
        """The integrator's meeting page stand-in: the person's token lets them into their room."""
        pid = self.participant_tokens.get(token)
        participant = self.participants.get(pid or "")
        if participant is None:
            raise Refusal(401, "invalid or expired token")
        room = self.find_room(room_ref)
        if participant.room_id != room.id or participant.left_at is not None:
            raise Refusal(403, "this token is not for this room")
        if room.status != "active":
            raise Refusal(400, "room is not active")
        participant.joined_at = participant.joined_at or self.now()
        return room, participant

    # -- recordings ---------------------------------------------------------------------

    def start_recording(self, room: ChalkRoom) -> ChalkRecording:
        if room.status != "active":
            raise Refusal(400, "room is not active")
        if not room.config.get("recording_enabled", True):
            raise Refusal(403, "recording is disabled for this room")
        if room.recording_id:
            raise Refusal(409, "already recording")
        if not self.active_count(room):
            # Unverified: RealtimeKit records a meeting, and a room nobody was let into has none yet.
            raise Refusal(400, "no active participants in room")
        recording = ChalkRecording(id=str(uuid.uuid4()), room_id=room.id, status="recording", started_at=self.now())
        self.recordings[recording.id] = recording
        room.recording_id = recording.id
        return recording

    def stop_recording(self, room: ChalkRoom) -> ChalkRecording:
        if not room.recording_id:
            raise Refusal(400, "room is not recording")
        recording = self.recordings[room.recording_id]
        recording.status, recording.stopped_at = "processing", self.now()
        room.recording_id = None
        return recording

    def recording_json(self, recording: ChalkRecording) -> dict[str, Any]:
        return {"id": recording.id, "room_id": recording.room_id, "status": recording.status,
                "started_at": iso(recording.started_at), "stopped_at": iso(recording.stopped_at),
                "created_at": iso(recording.started_at)}

    def find_recording(self, rid: str) -> ChalkRecording:
        recording = self.recordings.get(rid)
        if recording is None:
            raise Refusal(404, "recording not found")
        return recording

    def download(self, recording: ChalkRecording) -> dict[str, Any]:
        if recording.status != "ready":
            return {"status": "processing", "message": "Recording is still being processed"}
        return {"recording_id": recording.id, "download_url": self.download_url(recording), "status": "ready",
                "duration": self.duration(recording), "file_size": 1_048_576, "provider": "cloudflare"}

    def download_url(self, recording: ChalkRecording) -> str:
        return f"{self.base_url}/files/recordings/{recording.id}.mp4?sig={secrets.token_hex(8)}"

    @staticmethod
    def duration(recording: ChalkRecording) -> int:
        return int(((recording.stopped_at or recording.started_at) - recording.started_at).total_seconds())

    def transcript(self, recording: ChalkRecording) -> dict[str, Any]:
        if recording.summary is None:
            return {"recording_id": recording.id, "status": "processing", "summary": None, "action_items": []}
        return {"recording_id": recording.id, "status": "completed", "summary": recording.summary,
                "action_items": recording.action_items}

    # -- webhook ------------------------------------------------------------------------

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        hook = body.get("post_meeting_webhook")
        if isinstance(hook, dict):
            known = {k: v for k, v in hook.items() if k in WebhookConfig.__dataclass_fields__}
            self.webhook = WebhookConfig(**{**asdict(self.webhook), **known})
        return {"tenant_id": self.tenant_id, "post_meeting_webhook": {**asdict(self.webhook), "secret": "***"}}

    def sign_webhook(self, body: bytes) -> dict[str, str]:
        stamp = str(int(self.now().timestamp()))
        digest = hmac.new(self.webhook.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return {"X-Chalk-Signature": f"sha256={digest}", "X-Chalk-Timestamp": stamp,
                "X-Chalk-Event": "meeting.recording_ready"}

    def recording_ready(self, room: ChalkRoom) -> dict[str, Any]:
        """A recording of the room, processed with its summary, announced by the post-meeting webhook."""
        if not (self.webhook.enabled and self.webhook.url):
            raise Refusal(422, "This Chalk tenant has no post-meeting webhook set up, so nobody would hear "
                               "about the recording.")
        recording = self.recordings.get(room.recording_id or "") or next(
            (r for r in sorted(self.recordings.values(), key=lambda r: r.started_at, reverse=True)
             if r.room_id == room.id and r.status == "processing"), None)
        if recording is None:
            recording = ChalkRecording(id=str(uuid.uuid4()), room_id=room.id, status="recording",
                                       started_at=room.started_at or self.now())
            self.recordings[recording.id] = recording
        room.recording_id = None
        recording.status, recording.stopped_at = "ready", recording.stopped_at or self.now()
        recording.summary, recording.action_items = SIM_SUMMARY, list(SIM_ACTION_ITEMS)
        people = [p for p in self.participants.values() if p.room_id == room.id]
        payload: dict[str, Any] = {
            "event": "meeting.recording_ready", "timestamp": iso(self.now()),
            "meeting": {"id": room.id, "name": room.name, "started_at": iso(room.started_at),
                        "ended_at": iso(room.ended_at),
                        "duration_seconds": int(((room.ended_at or self.now()) - (room.started_at or self.now())).total_seconds()),
                        "participant_count": len(people)},
            "participants": [{"id": p.id, "external_user_id": p.external_user_id, "external_id": p.external_user_id,
                              "display_name": p.display_name, "role": p.role, "joined_at": iso(p.joined_at),
                              "left_at": iso(p.left_at), "metadata": None} for p in people],
            "errors": [],
        }
        if self.webhook.include_recording:
            payload["recording"] = {"id": recording.id, "duration_seconds": self.duration(recording),
                                    "size_bytes": 1_048_576, "download_url": self.download_url(recording),
                                    "download_api": f"{self.base_url}{API_PREFIX}/recordings/{recording.id}/download",
                                    "expires_at": iso(self.now() + timedelta(hours=1))}
        if self.webhook.include_summary:
            payload["summary"] = recording.summary
        if self.webhook.include_action_items:
            payload["action_items"] = recording.action_items
        body = json.dumps(payload).encode()
        self.outbox.send(self.webhook.url, "meeting.recording_ready", body)
        return {"recording_id": recording.id, "delivered_to": self.webhook.url}

    # -- sim verbs (the console's `sim` commands) ------------------------------------------

    def sim_join(self, room: str, name: str) -> Any:
        found = self.find_room(room)
        participant = self._admit(found, {"display_name": name, "role": "participant"})
        participant.joined_at = self.now()
        return {"participant_id": participant.id, "active_participants": self.active_count(found)}

    def sim_leave(self, room: str, name: str) -> Any:
        found = self.find_room(room)
        present = [p for p in self.active_participants(found) if not name or p.display_name == name]
        if not present:
            raise Refusal(404, f"Nobody called {name or 'anything'} is in {found.name}.")
        present[-1].left_at = self.now()
        return {"active_participants": self.active_count(found)}

    def sim_end(self, room: str) -> Any:
        return self.room_json(self.end_room(self.find_room(room)))

    def sim_recording(self, room: str) -> Any:
        return self.recording_ready(self.find_room(room))

    def sim_summary(self, room: str) -> Any:
        raise Refusal(422, "Chalk has no summary of its own to announce: the summary arrives with the "
                           "recording. Use `sim recording` instead.")

    def snapshot(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "token_ttl_seconds": self.token_ttl_seconds,
                "exchanges": self.exchanges, "refreshes": self.refreshes,
                "rooms": [self.room_json(r, with_count=True) for r in self.rooms.values()],
                "participants": [self.participant_json(p) for p in self.participants.values()],
                "recordings": [self.recording_json(r) for r in self.recordings.values()],
                "webhook": {**asdict(self.webhook), "secret": "***" if self.webhook.secret else ""}}


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()
