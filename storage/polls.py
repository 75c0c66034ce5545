"""Polls meetops created, and where their message is, so Results can update it in place."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import sqlite_utils
from sqlite_utils.db import NotFoundError

from storage.db import utcnow
from storage.records import Record


@dataclass
class PollRecord(Record):
    id: str  # the provider's poll id
    room_id: str
    team_id: str
    question: str
    type: str  # single | multiple | free
    anonymous: bool
    options: list[str]
    created_by: str
    channel: str | None = None
    message_ts: str | None = None
    created_at: str = ""

    @classmethod
    def from_row(cls, row: dict) -> "PollRecord":
        return super().from_row({**row, "anonymous": bool(row.get("anonymous")),
                                 "options": json.loads(row.get("options") or "[]")})


def insert(db: sqlite_utils.Database, poll: PollRecord) -> PollRecord:
    poll.created_at = poll.created_at or utcnow()
    row = {**asdict(poll), "anonymous": int(poll.anonymous), "options": json.dumps(poll.options)}
    with db.atomic():
        db["polls"].insert(row)
    return poll


def get(db: sqlite_utils.Database, poll_id: str) -> PollRecord | None:
    try:
        return PollRecord.from_row(db["polls"].get(poll_id))
    except NotFoundError:
        return None


def set_message(db: sqlite_utils.Database, poll_id: str, *, channel: str, ts: str) -> None:
    with db.atomic():
        db["polls"].update(poll_id, {"channel": channel, "message_ts": ts})


def in_room(db: sqlite_utils.Database, room_id: str) -> dict[str, PollRecord]:
    rows = db.query("select * from polls where room_id = ? order by created_at", [room_id])
    return {row["id"]: PollRecord.from_row(row) for row in rows}
