"""Rooms the bot created, each channel's standing room, and the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

import sqlite_utils
from sqlite_utils.db import NotFoundError

from storage.db import utcnow
from storage.records import Record, fetch, fetch_one


@dataclass
class RoomRecord(Record):
    id: str
    team_id: str
    channel_id: str
    creator_id: str
    name: str
    friendly_url: str
    room_url: str
    privacy: str = "public"
    description: str | None = None
    message_channel: str | None = None
    message_ts: str | None = None
    status: str = "open"
    participants: int = 0
    session_id: str | None = None
    session_started_at: str | None = None
    session_ended_at: str | None = None
    ended_by: str | None = None
    auto_summary: int = 1
    created_at: str = ""
    provider: str = "digitalsamba"
    provider_data: str | None = None  # JSON {"extra": {...}, "facts": [[label, value], ...]}
    name_key: str | None = None
    slug_key: str | None = None

    @property
    def private(self) -> bool:
        return self.privacy == "private"

    @property
    def extra(self) -> dict:
        return (self._data().get("extra") or {}) if self.provider_data else {}

    @property
    def facts(self) -> tuple[tuple[str, str], ...]:
        return tuple((str(a), str(b)) for a, b in self._data().get("facts") or ()) if self.provider_data else ()

    def _data(self) -> dict:
        try:
            data = json.loads(self.provider_data or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


def provider_data(extra: dict, facts: tuple[tuple[str, str], ...]) -> str:
    return json.dumps({"extra": dict(extra), "facts": [list(f) for f in facts]}, sort_keys=True)


def fold(text: str) -> str:
    """How names compare: Unicode case-folding (`Ünïcödé` = `ünïcödé`, `STRASSE` = `straße`)."""
    return (text or "").strip().casefold()


# `/meet new` writes a room, its audit line and its message ts: plain statements here, because
# sqlite-utils' table helpers re-read the schema on every call (39 statements per new room instead
# of 6, about a third of the command's CPU in benchmarks/ack_latency.py).


def _columns(names) -> str:
    return ", ".join('"' + name.replace('"', '""') + '"' for name in names)


_ROOM_COLUMNS = tuple(f.name for f in fields(RoomRecord))


def insert(db: sqlite_utils.Database, room: RoomRecord) -> RoomRecord:
    room.created_at = room.created_at or utcnow()
    room.name_key, room.slug_key = fold(room.name), fold(room.friendly_url)
    row = {name: getattr(room, name) for name in _ROOM_COLUMNS}
    db.execute(f"insert into rooms ({_columns(row)}) values ({', '.join('?' * len(row))})", list(row.values()))
    return room


def get(db: sqlite_utils.Database, room_id: str) -> RoomRecord | None:
    row = fetch_one(db, "select * from rooms where id = ?", [room_id])
    return RoomRecord.from_row(row) if row else None


def find(db: sqlite_utils.Database, team_id: str, ref: str, channel_id: str = "") -> RoomRecord | None:
    """A room by id, link name (friendly_url) or the name it was posted with, in any case.

    Names may repeat across channels: a room that can be seen from `channel_id` wins over another channel's
    private room (hidden there: it must not hide a public room of the same name), then a room of `channel_id`,
    then one whose meeting isn't over (a platform whose rooms don't reopen gets a new room of the same name),
    then a link name, then the newest.
    """
    found = candidates(db, team_id, ref, channel_id, limit=1)
    return found[0] if found else None


def candidates(db: sqlite_utils.Database, team_id: str, ref: str, channel_id: str = "",
               limit: int = 5) -> list[RoomRecord]:
    """The rooms `ref` may mean, best first, as `find` ranks them."""
    ref = ref.strip()
    rows = fetch(db,
        """
        select * from rooms
        where status != 'deleted' and (id = :ref or (team_id = :team and (slug_key = :key or name_key = :key)))
        order by (id = :ref) desc, (privacy is not 'private' or channel_id in (:channel, '')) desc,
                 (channel_id = :channel) desc, (status != 'ended') desc, (slug_key = :key) desc, created_at desc
        limit :limit
        """,
        {"ref": ref, "key": fold(ref), "team": team_id, "channel": channel_id, "limit": limit},
    )
    return [RoomRecord.from_row(row) for row in rows]


def ids_on(db: sqlite_utils.Database, provider: str) -> set[str]:
    """The ids of every room meetops has on a provider (deleted ones included: never to be adopted again)."""
    return {row["id"] for row in fetch(db, "select id from rooms where provider = ?", [provider])}


def of_team(db: sqlite_utils.Database, team_id: str) -> dict[str, RoomRecord]:
    """Every room the bot made for the team, by id."""
    return {row["id"]: RoomRecord.from_row(row) for row in fetch(db, "select * from rooms where team_id = ?", [team_id])}


def by_session(db: sqlite_utils.Database, session_id: str) -> RoomRecord | None:
    row = fetch_one(db, "select * from rooms where session_id = ? limit 1", [session_id])
    return RoomRecord.from_row(row) if row else None


def update(db: sqlite_utils.Database, room_id: str, **values) -> RoomRecord:
    if "name" in values:
        values["name_key"] = fold(values["name"])
    if values:
        assignments = ", ".join(f"{_columns([name])} = ?" for name in values)
        db.execute(f"update rooms set {assignments} where id = ?", [*values.values(), room_id])
    room = get(db, room_id)
    if room is None:
        raise NotFoundError(room_id)
    return room


def taken_of(db: sqlite_utils.Database, team_id: str, candidates: list[str]) -> set[str]:
    """Which of these link names (case-folded) the team's rooms use: asks for these only, not for every room the
    team ever made. A deleted room's name is free again, as it is at the provider."""
    keys = [fold(c) for c in candidates]
    marks = ", ".join("?" * len(keys))
    return {r["slug_key"] for r in fetch(db, f"select slug_key from rooms where team_id = ? and status != 'deleted' "
                                             f"and slug_key in ({marks})", [team_id, *keys])}


def message_posted(db: sqlite_utils.Database, room_id: str, channel: str, ts: str) -> None:
    """Where the room message now is. A room message it still owed is settled with it (migration m010's
    trigger): the message is up."""
    db.execute("update rooms set message_channel = ?, message_ts = ? where id = ?", [channel, ts, room_id])


def named_in_channel(db: sqlite_utils.Database, team_id: str, channel_id: str, name: str) -> RoomRecord | None:
    """This channel's room with this name (in any case), if there is one."""
    row = fetch_one(db,
        "select * from rooms where team_id = ? and channel_id = ? and name_key = ? and status != 'deleted' "
        "order by created_at desc limit 1", [team_id, channel_id, fold(name)])
    return RoomRecord.from_row(row) if row else None


def by_provider_id(db: sqlite_utils.Database, provider: str, room_id: str) -> RoomRecord | None:
    row = fetch_one(db, "select * from rooms where provider = ? and id = ? limit 1", [provider, room_id])
    return RoomRecord.from_row(row) if row else None


def in_channel(db: sqlite_utils.Database, team_id: str, channel_id: str) -> list[RoomRecord]:
    rows = fetch(db,
        "select * from rooms where team_id = ? and channel_id = ? and status != 'deleted' order by created_at",
        [team_id, channel_id],
    )
    return [RoomRecord.from_row(r) for r in rows]


def standing_room(db: sqlite_utils.Database, team_id: str, channel_id: str) -> RoomRecord | None:
    rows = fetch(db,
        "select rooms.* from channel_rooms join rooms on rooms.id = channel_rooms.room_id "
        "where channel_rooms.team_id = ? and channel_rooms.channel_id = ?",
        [team_id, channel_id],
    )
    row = next(iter(rows), None)
    return RoomRecord.from_row(row) if row else None


def set_standing_room(db: sqlite_utils.Database, team_id: str, channel_id: str, room_id: str) -> None:
    with db.atomic():
        db["channel_rooms"].upsert(
            {"team_id": team_id, "channel_id": channel_id, "room_id": room_id, "created_at": utcnow()},
            pk=("team_id", "channel_id"),
        )


def audit(db: sqlite_utils.Database, *, team_id: str, user_id: str, action: str, room_id: str | None = None,
          **detail) -> None:
    """Who did what. `detail` must never hold a secret (links, tokens, stream keys)."""
    db.execute("insert into audit_log (at, team_id, user_id, action, room_id, detail) values (?, ?, ?, ?, ?, ?)",
               [utcnow(), team_id, user_id, action, room_id, json.dumps(detail, sort_keys=True) if detail else None])
