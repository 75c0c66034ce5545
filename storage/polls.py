"""Polls meetops created, and where their message is, so Results can update it in place.

Polls on providers without a poll API run in Slack (`hosted = "slack"`): their votes (one per person per
option) and free-text answers (one per person) live here too, and so does who closed them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import sqlite_utils
from sqlite_utils.db import NotFoundError

from storage.db import utcnow
from storage.records import Record, fetch, fetch_one

PROVIDER = "provider"  # the provider runs the poll (Digital Samba's in-meeting polls)
SLACK = "slack"  # the poll runs in Slack: vote buttons, votes stored here


@dataclass
class PollRecord(Record):
    id: str  # the provider's poll id, or meetops' own for a poll that runs in Slack
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
    hosted: str = PROVIDER
    closed_at: str | None = None
    closed_by: str | None = None

    @classmethod
    def from_row(cls, row: dict) -> "PollRecord":
        return super().from_row({**row, "anonymous": bool(row.get("anonymous")),
                                 "options": json.loads(row.get("options") or "[]")})

    @property
    def in_slack(self) -> bool:
        return self.hosted == SLACK

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


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
    rows = fetch(db, "select * from polls where room_id = ? order by created_at", [room_id])
    return {row["id"]: PollRecord.from_row(row) for row in rows}


# -- polls that run in Slack -------------------------------------------------------------


class Outcome(StrEnum):
    ADDED = "added"  # the vote counts now (for single choice: any other vote of theirs was withdrawn)
    REMOVED = "removed"  # they clicked the option they had voted for: the vote is withdrawn
    REPEATED = "repeated"  # the same person clicked the same option a moment ago: a double click, counted once
    CLOSED = "closed"  # the poll takes no more votes
    GONE = "gone"  # no such poll


@dataclass(frozen=True)
class VoteResult:
    outcome: Outcome
    withdrawn: tuple[int, ...] = ()  # single choice: the options the new vote replaced


def _open_poll(db: sqlite_utils.Database, poll_id: str) -> Outcome | None:
    row = fetch_one(db, "select closed_at from polls where id = ?", [poll_id])
    if row is None:
        return Outcome.GONE
    return Outcome.CLOSED if row["closed_at"] else None


def vote(db: sqlite_utils.Database, poll_id: str, user_id: str, option: int, *, multiple: bool, at: datetime,
         double_click: timedelta) -> VoteResult:
    """Toggle `user_id`'s vote for `option` (0-based), all in one transaction.

    A click on an option the person voted for takes the vote back; for single choice, a vote for another
    option replaces theirs. A click within `double_click` of their last click on the same option is the
    second half of a double click and changes nothing.
    """
    now = at.isoformat(timespec="milliseconds")
    with db.atomic():
        refused = _open_poll(db, poll_id)
        if refused is not None:
            return VoteResult(refused)
        key = [poll_id, user_id, option]
        row = fetch_one(db,
            "select active, voted_at from poll_votes where poll_id = ? and user_id = ? and option = ?", key)
        if row is not None and datetime.fromisoformat(row["voted_at"]) > at - double_click:
            return VoteResult(Outcome.REPEATED)
        if row is not None and row["active"]:
            db.execute("update poll_votes set active = 0, voted_at = ? where poll_id = ? and user_id = ? and option = ?",
                       [now, *key])
            return VoteResult(Outcome.REMOVED)
        withdrawn: tuple[int, ...] = ()
        if not multiple:
            withdrawn = tuple(r["option"] for r in fetch(db,
                "select option from poll_votes where poll_id = ? and user_id = ? and option != ? and active = 1",
                key))
            # Their last click on those options stays as it was: only a click on the same option is a double click.
            db.execute("update poll_votes set active = 0 where poll_id = ? and user_id = ? and option != ?", key)
        db.execute("insert into poll_votes (poll_id, user_id, option, voted_at, active) values (?, ?, ?, ?, 1) "
                   "on conflict (poll_id, user_id, option) do update set active = 1, voted_at = excluded.voted_at",
                   [*key, now])
        return VoteResult(Outcome.ADDED, withdrawn)


def votes(db: sqlite_utils.Database, poll_id: str) -> dict[int, list[str]]:
    """Option (0-based) -> the user ids whose vote for it counts, earliest first."""
    tally: dict[int, list[str]] = {}
    for row in fetch(db, "select option, user_id from poll_votes where poll_id = ? and active = 1 "
                        "order by voted_at, user_id", [poll_id]):
        tally.setdefault(row["option"], []).append(row["user_id"])
    return tally


def answer(db: sqlite_utils.Database, poll_id: str, user_id: str, text: str, *, at: datetime) -> Outcome:
    """Record (or replace) a person's free-text answer."""
    with db.atomic():
        refused = _open_poll(db, poll_id)
        if refused is not None:
            return refused
        existed = db.execute("select 1 from poll_answers where poll_id = ? and user_id = ?",
                             [poll_id, user_id]).fetchone() is not None
        db["poll_answers"].upsert({"poll_id": poll_id, "user_id": user_id, "text": text,
                                   "answered_at": at.isoformat(timespec="milliseconds")}, pk=("poll_id", "user_id"))
    return Outcome.REPEATED if existed else Outcome.ADDED


def answers(db: sqlite_utils.Database, poll_id: str) -> list[tuple[str, str]]:
    """(user id, answer) for every answer, earliest first."""
    return [(r["user_id"], r["text"]) for r in fetch(db,
        "select user_id, text from poll_answers where poll_id = ? order by answered_at, user_id", [poll_id])]


def answer_of(db: sqlite_utils.Database, poll_id: str, user_id: str) -> str | None:
    row = db.execute("select text from poll_answers where poll_id = ? and user_id = ?", [poll_id, user_id]).fetchone()
    return row[0] if row else None


def close(db: sqlite_utils.Database, poll_id: str, user_id: str, *, at: datetime) -> bool:
    """Close the poll; False when it was already closed (or is gone)."""
    with db.atomic():
        return db.execute("update polls set closed_at = ?, closed_by = ? where id = ? and closed_at is null",
                          [at.isoformat(timespec="milliseconds"), user_id, poll_id]).rowcount == 1


def delete(db: sqlite_utils.Database, poll_id: str) -> None:
    """Forget a poll with its votes and answers."""
    with db.atomic():
        db.execute("delete from poll_votes where poll_id = ?", [poll_id])
        db.execute("delete from poll_answers where poll_id = ?", [poll_id])
        db.execute("delete from polls where id = ?", [poll_id])
