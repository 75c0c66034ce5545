"""Rooms asked for and not yet finished: the row is written before the provider is called.

`creating`: the provider may or may not have the room (a crash can come between its answer and ours).
`unsure`: the provider didn't answer in time and the person was told it failed; it may exist after all.
`created`: the room is in `rooms` and its room message is still owed (Slack refused it, or a crash came
first). The row goes once the message is posted, or once the person is told the room could not be made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

import sqlite_utils

from storage.db import utcnow
from storage.records import Record, fetch, fetch_one

CREATING, UNSURE, CREATED = "creating", "unsure", "created"


@dataclass
class IntentRecord(Record):
    id: int
    team_id: str
    channel_id: str
    user_id: str
    name: str
    slug: str
    provider: str
    state: str
    description: str | None = None
    private: int = 0
    standing: int = 0
    options: str | None = None
    room_id: str | None = None
    attempts: int = 0
    created_at: str = ""
    updated_at: str = ""

    @property
    def option_set(self) -> frozenset[str]:
        try:
            return frozenset(json.loads(self.options or "[]"))
        except ValueError:
            return frozenset()


def record(db: sqlite_utils.Database, *, team_id: str, channel_id: str, user_id: str, name: str, slug: str,
           description: str, private: bool, standing: bool, provider: str,
           options: frozenset[str]) -> IntentRecord:
    """Write down the ask (with the first link name to try) before anything is created.

    One plain INSERT: sqlite-utils' `Table.insert` reads the schema three times per call, and this runs
    for every `/meet new`."""
    now = utcnow()
    intent = IntentRecord(id=0, team_id=team_id, channel_id=channel_id, user_id=user_id, name=name, slug=slug,
                          provider=provider, state=CREATING, description=description, private=int(private),
                          standing=int(standing), options=json.dumps(sorted(options)), created_at=now,
                          updated_at=now)
    row = {f.name: getattr(intent, f.name) for f in fields(IntentRecord) if f.name not in ("id", "room_id")}
    intent.id = db.execute(f"insert into room_intents ({', '.join(row)}) values ({', '.join('?' * len(row))})",
                           list(row.values())).lastrowid
    return intent


def get(db: sqlite_utils.Database, intent_id: int) -> IntentRecord | None:
    row = fetch_one(db, "select * from room_intents where id = ?", [intent_id])
    return IntentRecord.from_row(row) if row else None


def trying(db: sqlite_utils.Database, intent_id: int, slug: str) -> None:
    """The link name about to be asked for (the one to look up should the process die now)."""
    db.execute("update room_intents set slug = ?, updated_at = ? where id = ?", [slug, utcnow(), intent_id])


def unsure(db: sqlite_utils.Database, intent_id: int) -> None:
    db.execute("update room_intents set state = ?, updated_at = ? where id = ? and state = ?",
               [UNSURE, utcnow(), intent_id, CREATING])


def created(db: sqlite_utils.Database, intent_id: int, room_id: str) -> None:
    """Call inside the transaction that inserts the room: the room and this mark commit together."""
    db.execute("update room_intents set state = ?, room_id = ?, updated_at = ? where id = ?",
               [CREATED, room_id, utcnow(), intent_id])


def owing_message(db: sqlite_utils.Database, room_id: str) -> IntentRecord | None:
    row = fetch_one(db, "select * from room_intents where state = ? and room_id = ? order by id limit 1",
                    [CREATED, room_id])
    return IntentRecord.from_row(row) if row else None


def attempted(db: sqlite_utils.Database, intent_id: int) -> None:
    db.execute("update room_intents set attempts = attempts + 1, updated_at = ? where id = ?", [utcnow(), intent_id])


def done(db: sqlite_utils.Database, intent_id: int) -> bool:
    """Drop the row; False when another path (a retry job, the person trying again) already did."""
    return db.execute("delete from room_intents where id = ?", [intent_id]).rowcount == 1


def done_for_room(db: sqlite_utils.Database, room_id: str) -> None:
    """The room message is up (posted by whoever): nothing is owed for this room any more."""
    db.execute("delete from room_intents where room_id = ? and state = ?", [room_id, CREATED])


def unsure_of(db: sqlite_utils.Database, team_id: str, channel_id: str, name_key: str) -> IntentRecord | None:
    """A room of that name (folded) asked for in the channel that the provider may have made after all (it
    answered too late; a check is due). Asks being made right now are not looked at: the same name's asks take
    turns (commands.rooms), and a crash's are settled at start-up. Few rows: a burst of `/meet new` has hundreds
    `creating` at once, and this runs for each."""
    rows = fetch(db, "select * from room_intents where team_id = ? and channel_id = ? and state = ? order by id",
                 [team_id, channel_id, UNSURE])
    return next((IntentRecord.from_row(r) for r in rows if r["name"].casefold() == name_key), None)


def unfinished(db: sqlite_utils.Database, state: str | None = None) -> list[IntentRecord]:
    rows = fetch(db, "select * from room_intents" + (" where state = ?" if state else "") + " order by id",
                    [state] if state else [])
    return [IntentRecord.from_row(r) for r in rows]
