"""What a provider asked to get back the next time a person joins a room (a participant id, an
invite's expiry), so a second click reuses rather than mints again. Never a link or a token."""

from __future__ import annotations

import json
from datetime import datetime

import sqlite_utils

from storage.db import utcnow
from storage.records import fetch_one


def previous(db: sqlite_utils.Database, room_id: str, user_id: str, now: datetime) -> dict | None:
    """The handle of this person's last grant for the room, while it has not expired."""
    row = fetch_one(db, "select * from join_grants where room_id = ? and user_id = ?", [room_id, user_id])
    if row is None or not row["handle"]:
        return None
    if row["expires_at"] and datetime.fromisoformat(row["expires_at"]) <= now:
        return None
    try:
        handle = json.loads(row["handle"])
    except ValueError:
        return None
    return handle if isinstance(handle, dict) and handle else None


def remember(db: sqlite_utils.Database, room_id: str, user_id: str, handle: dict, expires_at: datetime | None) -> None:
    with db.atomic():
        db["join_grants"].upsert({
            "room_id": room_id, "user_id": user_id, "handle": json.dumps(dict(handle), sort_keys=True) if handle else None,
            "expires_at": expires_at.isoformat() if expires_at else None, "updated_at": utcnow()},
            pk=("room_id", "user_id"))


def forget_room(db: sqlite_utils.Database, room_id: str) -> None:
    with db.atomic():
        db.execute("delete from join_grants where room_id = ?", [room_id])


def handle(db: sqlite_utils.Database, room_id: str, user_id: str) -> dict | None:
    """The handle of this person's last grant for the room, expired or not (removing someone who is still
    in the meeting after their link ran out needs it)."""
    row = fetch_one(db, "select handle from join_grants where room_id = ? and user_id = ?", [room_id, user_id])
    if row is None or not row["handle"]:
        return None
    try:
        value = json.loads(row["handle"])
    except ValueError:
        return None
    return value if isinstance(value, dict) and value else None


def forget(db: sqlite_utils.Database, room_id: str, user_id: str) -> None:
    """This person's grant is gone (they were removed): their next Join starts afresh."""
    with db.atomic():
        db.execute("delete from join_grants where room_id = ? and user_id = ?", [room_id, user_id])
