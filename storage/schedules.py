"""Meetings scheduled from Slack: where their message is and which reminder went out last."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import sqlite_utils
from sqlite_utils.db import NotFoundError

from storage.db import utcnow
from storage.records import Record, fetch

SCHEDULED = "scheduled"


@dataclass
class ScheduleRecord(Record):
    id: str
    provider: str
    meeting_id: str
    team_id: str
    channel_id: str
    room_id: str
    title: str
    starts_at: str
    ends_at: str
    timezone: str
    repeat: str
    created_by: str
    message_ts: str | None = None
    status: str = SCHEDULED
    reminded_for: str | None = None
    created_at: str = ""

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(self.starts_at)

    @property
    def end(self) -> datetime:
        return datetime.fromisoformat(self.ends_at)


def insert(db: sqlite_utils.Database, record: ScheduleRecord) -> ScheduleRecord:
    record.created_at = record.created_at or utcnow()
    with db.atomic():
        db["scheduled_meetings"].insert(asdict(record), replace=True)
    return record


def get(db: sqlite_utils.Database, record_id: str) -> ScheduleRecord | None:
    try:
        return ScheduleRecord.from_row(db["scheduled_meetings"].get(record_id))
    except NotFoundError:
        return None


def update(db: sqlite_utils.Database, record_id: str, **values) -> None:
    with db.atomic():
        db["scheduled_meetings"].update(record_id, values)


def active(db: sqlite_utils.Database) -> list[ScheduleRecord]:
    return [ScheduleRecord.from_row(r) for r in fetch(db,
        "select * from scheduled_meetings where status = ? order by starts_at", [SCHEDULED])]


def in_channel(db: sqlite_utils.Database, team_id: str, channel_id: str) -> list[ScheduleRecord]:
    return [ScheduleRecord.from_row(r) for r in fetch(db,
        "select * from scheduled_meetings where team_id = ? and channel_id = ? and status = ? order by starts_at",
        [team_id, channel_id, SCHEDULED])]


def of_room(db: sqlite_utils.Database, room_id: str) -> list[ScheduleRecord]:
    return [ScheduleRecord.from_row(r) for r in fetch(db,
        "select * from scheduled_meetings where room_id = ? and status = ?", [room_id, SCHEDULED])]
