"""meetops' own log of meetings: fed by webhooks, pollers and the bot's own actions (start, end,
participants), so digests, `/meet live` and room messages read the same thing on every provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

import sqlite_utils

from storage.db import utcnow
from storage.records import Record, fetch, fetch_one

LIVE, ENDED = "live", "ended"


@dataclass
class SessionRecord(Record):
    id: str
    provider: str
    session_id: str
    room_id: str
    state: str
    started_at: str | None = None
    ended_at: str | None = None
    participants: int = 0
    recording: str | None = None
    ended_by: str | None = None
    updated_at: str = ""

    @property
    def started(self) -> datetime | None:
        return datetime.fromisoformat(self.started_at) if self.started_at else None

    @property
    def ended(self) -> datetime | None:
        return datetime.fromisoformat(self.ended_at) if self.ended_at else None

    @property
    def duration_seconds(self) -> int | None:
        if self.started and self.ended:
            return max(0, int((self.ended - self.started).total_seconds()))
        return None


def key(provider: str, session_id: str) -> str:
    return f"{provider}:{session_id}"


def get(db: sqlite_utils.Database, provider: str, session_id: str) -> SessionRecord | None:
    row = fetch_one(db, "select * from sessions where id = ?", [key(provider, session_id)])
    return SessionRecord.from_row(row) if row else None


def started(db: sqlite_utils.Database, *, provider: str, session_id: str, room_id: str, at: str,
            participants: int = 0) -> SessionRecord:
    """Record a session as live (idempotent: a later call keeps the first start time)."""
    with db.atomic():
        db.execute(
            "insert into sessions (id, provider, session_id, room_id, state, started_at, participants, updated_at) "
            "values (?, ?, ?, ?, 'live', ?, ?, ?) on conflict(id) do update set "
            "state = case when sessions.state = 'ended' then 'ended' else 'live' end, "
            "started_at = coalesce(sessions.started_at, excluded.started_at), updated_at = excluded.updated_at",
            [key(provider, session_id), provider, session_id, room_id, at, participants, utcnow()])
    record = get(db, provider, session_id)
    assert record is not None
    return record


def set_participants(db: sqlite_utils.Database, provider: str, session_id: str, count: int) -> None:
    with db.atomic():
        db.execute("update sessions set participants = ?, updated_at = ? where id = ? and state = 'live'",
                   [max(0, count), utcnow(), key(provider, session_id)])


def ended(db: sqlite_utils.Database, *, provider: str, session_id: str, room_id: str, at: str,
          started_at: str | None = None, participants: int | None = None, ended_by: str | None = None) -> SessionRecord:
    """Record a session as over (idempotent: the first end time and who ended it are kept)."""
    with db.atomic():
        db.execute(
            "insert into sessions (id, provider, session_id, room_id, state, started_at, ended_at, participants, "
            "ended_by, updated_at) values (?, ?, ?, ?, 'ended', ?, ?, ?, ?, ?) on conflict(id) do update set "
            "state = 'ended', ended_at = coalesce(sessions.ended_at, excluded.ended_at), "
            "started_at = coalesce(sessions.started_at, excluded.started_at), "
            "participants = max(sessions.participants, excluded.participants), "
            "ended_by = coalesce(sessions.ended_by, excluded.ended_by), updated_at = excluded.updated_at",
            [key(provider, session_id), provider, session_id, room_id, started_at or at, at, participants or 0,
             ended_by, utcnow()])
    record = get(db, provider, session_id)
    assert record is not None
    return record


def live_in(db: sqlite_utils.Database, room_ids: list[str] | None = None) -> list[SessionRecord]:
    rows = fetch(db, "select * from sessions where state = 'live' order by started_at")
    found = [SessionRecord.from_row(r) for r in rows]
    return [s for s in found if room_ids is None or s.room_id in room_ids]


def latest_of_room(db: sqlite_utils.Database, room_id: str) -> SessionRecord | None:
    row = fetch_one(db,
        "select * from sessions where room_id = ? order by coalesce(started_at, updated_at) desc limit 1",
        [room_id])
    return SessionRecord.from_row(row) if row else None


def ended_between(db: sqlite_utils.Database, room_ids: list[str], since: str, until: str,
                  batch: int = 100) -> Iterator[SessionRecord]:
    """Sessions of these rooms that ended in (since, until], oldest first, read `batch` rows at a time
    (a digest of 10,000 meetings never holds them all)."""
    if not room_ids:
        return
    marks = ",".join("?" * len(room_ids))
    last_end, last_id = since, ""
    while True:
        rows = list(fetch(db,
            f"select * from sessions where state = 'ended' and room_id in ({marks}) and ended_at <= ? "
            "and (ended_at > ? or (ended_at = ? and id > ?)) order by ended_at, id limit ?",
            [*room_ids, until, last_end, last_end, last_id, batch]))
        for row in rows:
            yield SessionRecord.from_row(row)
        if len(rows) < batch:
            return
        last_end, last_id = rows[-1]["ended_at"], rows[-1]["id"]
