"""Session summaries someone is waiting for, and the claims that make each one go out once.

States: pending -> posting -> posted | gave_up | no_transcript. Every transition out of
`pending` is a conditional UPDATE checked by its rowcount, so of two racers (a webhook and
a poll, two clicks, two processes by mistake) exactly one wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils
from sqlite_utils.db import NotFoundError

from storage.db import utcnow
from storage.records import Record, fetch

PENDING, POSTING, POSTED, GAVE_UP, NO_TRANSCRIPT = "pending", "posting", "posted", "gave_up", "no_transcript"


@dataclass
class SummaryRecord(Record):
    session_id: str
    room_id: str
    state: str
    deadline: str
    post_channel: str | None = None
    thread_ts: str | None = None
    requested_by: str | None = None
    next_poll_at: str | None = None
    attempts: int = 0
    message_ts: str | None = None
    permalink: str | None = None
    excerpt: str | None = None
    parts: str | None = None  # JSON {"0": ts, ...}: the messages already in the thread
    created_at: str = ""
    updated_at: str = ""

    @property
    def deadline_at(self) -> datetime:
        return datetime.fromisoformat(self.deadline)


def get(db: sqlite_utils.Database, session_id: str) -> SummaryRecord | None:
    try:
        return SummaryRecord.from_row(db["summaries"].get(session_id))
    except NotFoundError:
        return None


def ensure(db: sqlite_utils.Database, *, session_id: str, room_id: str, deadline: datetime,
           post_channel: str | None, thread_ts: str | None, requested_by: str | None = None) -> SummaryRecord:
    """The session's row, made pending if there was none (an existing row is left as it is)."""
    now = utcnow()
    with db.atomic():
        db.execute(
            "insert or ignore into summaries (session_id, room_id, state, post_channel, thread_ts, requested_by, "
            "deadline, attempts, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            [session_id, room_id, PENDING, post_channel, thread_ts, requested_by, deadline.isoformat(), now, now],
        )
    record = get(db, session_id)
    assert record is not None
    return record


def transition(db: sqlite_utils.Database, session_id: str, old: str, new: str, **values) -> bool:
    """Move the row from `old` to `new` (and set `values`) if it is still in `old`; True if this call did."""
    values = {**values, "state": new, "updated_at": utcnow()}
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    with db.atomic():
        cursor = db.execute(
            f"update summaries set {assignments} where session_id = :session_id and state = :old",
            {**values, "session_id": session_id, "old": old},
        )
    return cursor.rowcount == 1


def restart(db: sqlite_utils.Database, session_id: str, deadline: datetime) -> bool:
    """Someone asks again after the bot gave up: wait another full period."""
    return transition(db, session_id, GAVE_UP, PENDING, deadline=deadline.isoformat(), next_poll_at=None)


def record_poll(db: sqlite_utils.Database, session_id: str, next_poll_at: datetime | None) -> None:
    with db.atomic():
        db.execute(
            "update summaries set attempts = attempts + 1, next_poll_at = ?, updated_at = ? "
            "where session_id = ? and state = ?",
            [next_poll_at.isoformat() if next_poll_at else None, utcnow(), session_id, PENDING],
        )


def set_next_poll(db: sqlite_utils.Database, session_id: str, next_poll_at: datetime) -> None:
    with db.atomic():
        db.execute("update summaries set next_poll_at = ? where session_id = ? and state = ?",
                   [next_poll_at.isoformat(), session_id, PENDING])


def pending(db: sqlite_utils.Database) -> list[SummaryRecord]:
    return [SummaryRecord.from_row(r) for r in fetch(db, "select * from summaries where state = ?", [PENDING])]


def parts(record: SummaryRecord) -> dict[int, str]:
    """The summary's messages already posted, by part index."""
    try:
        found = json.loads(record.parts or "{}")
    except ValueError:
        return {}
    return {int(k): v for k, v in found.items() if str(k).isdigit() and isinstance(v, str)} if isinstance(found, dict) else {}


def part_posted(db: sqlite_utils.Database, session_id: str, index: int, ts: str) -> None:
    """One message of the summary is in the thread (kept across a crash, so a retry skips it)."""
    with db.atomic():
        db.execute("update summaries set parts = json_set(coalesce(parts, '{}'), ?, ?), updated_at = ? "
                   "where session_id = ?", [f'$."{index}"', ts, utcnow(), session_id])


def in_state(db: sqlite_utils.Database, state: str) -> list[SummaryRecord]:
    return [SummaryRecord.from_row(r) for r in fetch(db, "select * from summaries where state = ?", [state])]


def for_sessions(db: sqlite_utils.Database, session_ids: list[str]) -> dict[str, SummaryRecord]:
    if not session_ids:
        return {}
    marks = ",".join("?" * len(session_ids))
    rows = fetch(db, f"select * from summaries where session_id in ({marks})", session_ids)
    return {r["session_id"]: SummaryRecord.from_row(r) for r in rows}
