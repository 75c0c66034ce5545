"""Each channel's digest schedule: cadence, wall-clock time and zone, and how far it has covered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlite_utils
from sqlite_utils.db import NotFoundError

from storage.db import utcnow
from storage.records import Record, fetch


@dataclass
class DigestRecord(Record):
    team_id: str
    channel_id: str
    cadence: str  # daily | weekly
    at_time: str  # HH:MM
    tz: str
    next_run: str  # ISO, UTC
    weekday: int | None = None  # 0 = Monday
    created_by: str | None = None
    last_covered_until: str | None = None
    posting_until: str | None = None  # a digest being posted covers up to here (ISO, UTC)
    posting_ts: str | None = None  # and its first message is this one
    created_at: str = ""
    updated_at: str = ""

    @property
    def next_run_at(self) -> datetime:
        return datetime.fromisoformat(self.next_run)

    @property
    def covered_until(self) -> datetime | None:
        return datetime.fromisoformat(self.last_covered_until) if self.last_covered_until else None


def get(db: sqlite_utils.Database, team_id: str, channel_id: str) -> DigestRecord | None:
    try:
        return DigestRecord.from_row(db["digests"].get((team_id, channel_id)))
    except NotFoundError:
        return None


def save(db: sqlite_utils.Database, record: DigestRecord) -> DigestRecord:
    """Create or replace the channel's schedule."""
    previous = get(db, record.team_id, record.channel_id)
    now = utcnow()
    record.created_at = previous.created_at if previous else now
    record.updated_at = now
    with db.atomic():
        db["digests"].upsert(record.__dict__, pk=("team_id", "channel_id"))
    return record


def delete(db: sqlite_utils.Database, team_id: str, channel_id: str) -> bool:
    with db.atomic():
        return db.execute("delete from digests where team_id = ? and channel_id = ?",
                          [team_id, channel_id]).rowcount == 1


def covered(db: sqlite_utils.Database, team_id: str, channel_id: str, *, until: datetime) -> None:
    """A digest went out covering everything up to `until`: the next one starts there."""
    _set(db, team_id, channel_id, last_covered_until=until.isoformat(), posting_until=None, posting_ts=None)


def posting(db: sqlite_utils.Database, team_id: str, channel_id: str, *, until: datetime) -> None:
    """A digest covering up to `until` is about to be posted (until `covered`)."""
    _set(db, team_id, channel_id, posting_until=until.isoformat(), posting_ts=None)


def first_posted(db: sqlite_utils.Database, team_id: str, channel_id: str, ts: str) -> None:
    _set(db, team_id, channel_id, posting_ts=ts)


def not_posting(db: sqlite_utils.Database, team_id: str, channel_id: str) -> None:
    _set(db, team_id, channel_id, posting_until=None, posting_ts=None)


def set_next_run(db: sqlite_utils.Database, team_id: str, channel_id: str, at: datetime) -> None:
    _set(db, team_id, channel_id, next_run=at.isoformat())


def _set(db: sqlite_utils.Database, team_id: str, channel_id: str, **values) -> None:
    with db.atomic():
        db.execute(f"update digests set {', '.join(f'{k} = :{k}' for k in values)}, updated_at = :updated_at "
                   "where team_id = :team_id and channel_id = :channel_id",
                   {**values, "updated_at": utcnow(), "team_id": team_id, "channel_id": channel_id})


def all_digests(db: sqlite_utils.Database) -> list[DigestRecord]:
    return [DigestRecord.from_row(r) for r in db["digests"].rows]


def channel_rooms(db: sqlite_utils.Database, team_id: str, channel_id: str) -> dict[str, str]:
    """Room id -> name for every room made in the channel, deleted ones included (their history counts)."""
    rows = fetch(db, "select id, name from rooms where team_id = ? and channel_id = ?", [team_id, channel_id])
    return {r["id"]: r["name"] for r in rows}
