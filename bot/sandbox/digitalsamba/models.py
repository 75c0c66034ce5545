"""The records the sandbox keeps: plain dataclasses and the platform's fixed vocabularies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.sandbox.kit.world import Faults as KitFaults

API_PREFIX = "/api/v1"

DEFAULT_ROLES = ("moderator", "speaker", "attendee")
DEFAULT_ROLE = "attendee"

# Boolean room settings the sandbox validates, stores and echoes, with Digital Samba's
# defaults. Other settings are accepted and ignored, as a team default would absorb them.
ROOM_FLAG_DEFAULTS: dict[str, bool] = {
    "is_locked": False,
    "join_screen_enabled": True,
    "chat_enabled": True,
    "qa_enabled": False,
    "polls_enabled": True,
    "screenshare_enabled": True,
    "raise_hand_enabled": True,
    "video_on_join_enabled": True,
    "audio_on_join_enabled": False,
    "topbar_enabled": True,
    "toolbar_enabled": True,
    "whiteboard_enabled": True,
    "breakout_rooms_enabled": False,
    "e2ee_enabled": False,
    "recordings_enabled": False,
    "recording_autostart_enabled": False,
    "transcription_enabled": False,
    "transcription_auto_start_enabled": False,
    "captions_enabled": False,
    "restream_enabled": False,
}

# GET /events: the reference's list (July 2026). The sandbox emits session_started,
# session_ended, session_summary_ready, recording_ready, participant_joined and
# participant_left; the others may be subscribed to but never happen here.
EVENT_NAMES = (
    "session_started",
    "session_ended",
    "session_summary_ready",
    "session_transcript_ready",
    "room_locked",
    "room_unlocked",
    "room_deleted",
    "role_deleted",
    "participant_joined",
    "participant_left",
    "participant_waiting_joined",
    "participant_waiting_left",
    "participant_invited",
    "participant_hand_raised",
    "participant_hand_lowered",
    "participant_avatar_uploaded",
    "participant_avatar_deleted",
    "phone_participant_muted",
    "phone_participant_unmuted",
    "phone_participant_asked_to_unmute",
    "recording_started",
    "recording_stopped",
    "recording_ready",
    "recording_deleted",
    "question_asked",
    "question_answered",
    "question_updated",
    "question_dismissed",
    "question_reopened",
    "question_deleted",
    "answer_updated",
    "answer_deleted",
    "file_added_to_library",
    "file_renamed",
    "file_deleted_from_library",
    "file_processing_failed",
    "folder_added_to_library",
    "folder_renamed",
    "folder_deleted_from_library",
)

POLL_TYPES = ("single", "multiple", "free")
RESTREAM_TYPES = ("youtube", "vimeo", "cloudflare")
RECORDING_STATUSES = ("IN_PROGRESS", "PENDING_CONVERSION", "READY")


def iso(moment: datetime | None) -> str | None:
    """Digital Samba's timestamp format: UTC, seconds, `Z`."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(eq=False)
class Room:
    id: str
    friendly_url: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    privacy: str = "public"
    external_id: str | None = None
    default_role: str = DEFAULT_ROLE
    roles: list[str] = field(default_factory=lambda: list(DEFAULT_ROLES))
    max_participants: int = 100
    session_length: int | None = None
    tags: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    flags: dict[str, bool] = field(default_factory=lambda: dict(ROOM_FLAG_DEFAULTS))
    # Deleted rooms vanish from the room endpoints but their sessions still name them.
    deleted: bool = False


@dataclass(eq=False)
class Participant:
    id: str
    session_id: str
    name: str
    role: str
    join_time: datetime
    external_id: str | None = None
    leave_time: datetime | None = None


@dataclass(eq=False)
class Session:
    id: str
    room: Room
    seq: int  # creation order, to break ties between equal start times
    start_time: datetime
    end_time: datetime | None = None
    live_participants: dict[str, Participant] = field(default_factory=dict)
    # Counters rather than lists, so bulk-made history costs nothing per participant.
    participants_total: int = 0
    participants_max: int = 0

    @property
    def live(self) -> bool:
        return self.end_time is None

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return (self.start_time, self.seq)


@dataclass(eq=False)
class Summary:
    job_id: str
    session_id: str
    status: str = "IN_PROGRESS"
    text: str = ""
    reads: int = 0  # GETs so far, for `summary_ready_after_polls`


@dataclass(eq=False)
class PollOption:
    id: str
    text: str


@dataclass(eq=False)
class Vote:
    voter_id: str
    voter_name: str
    option_id: str | None = None  # choice polls
    answer: str | None = None  # free-text polls


@dataclass(eq=False)
class Poll:
    id: str
    room_id: str
    question: str | None
    type: str
    anonymous: bool
    options: list[PollOption]
    created_at: datetime
    status: str = "created"
    session_id: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    votes: list[Vote] = field(default_factory=list)


@dataclass(eq=False)
class Restream:
    room_id: str
    session_id: str
    destination: str  # the provider type or the server URL; the stream key is never kept
    started_at: datetime


@dataclass(eq=False)
class Webhook:
    id: str
    endpoint: str
    events: list[str]
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    authorization_header: str | None = None


@dataclass(eq=False)
class Recording:
    id: str
    name: str
    room: Room
    session_id: str
    created_at: datetime
    status: str = "READY"


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any]
    timestamp: datetime


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    json: Any  # the body with secrets replaced by "***"
    status: int | None = None


@dataclass
class Delivery:
    webhook_id: str
    event: str
    endpoint: str
    attempts: int
    status: int | None  # the last HTTP status, None when the endpoint was unreachable
    error: str | None = None


@dataclass
class Faults(KitFaults):
    """The kit's faults, with Digital Samba's path rule: "/rooms" means "/api/v1/rooms", a prefix."""

    def applies_to(self, path: str) -> bool:
        if self.paths is None:
            return True
        prefix = self.paths if self.paths.startswith(API_PREFIX) else API_PREFIX + self.paths
        return path.startswith(prefix)


@dataclass
class SandboxConfig:
    # None: summaries stay IN_PROGRESS until /_sandbox/sessions/{id}/summary. N: the first N
    # GETs answer IN_PROGRESS and the next one finds it READY with a canned text.
    summary_ready_after_polls: int | None = None
    webhook_retry_delay: float = 0.5  # seconds before the one retry of a failed delivery
