"""Each room's livestream state: idle -> starting -> live -> stopping -> idle.

A transition is claimed with one conditional UPDATE, so of two clicks racing for
it exactly one wins and makes the API call. The stream key is never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from storage import claims
from storage.records import fetch_one

IDLE, STARTING, LIVE, STOPPING = "idle", "starting", "live", "stopping"


@dataclass(frozen=True)
class Restream:
    room_id: str
    state: str
    destination: str | None = None
    started_by: str | None = None
    started_at: str | None = None
    in_meeting: int = 0  # the destination is set up at the provider; the meeting starts the stream


def get(db: sqlite_utils.Database, room_id: str) -> Restream:
    row = fetch_one(db, "select * from restreams where room_id = ?", [room_id])
    return Restream(**row) if row else Restream(room_id=room_id, state=IDLE)


def claim(db: sqlite_utils.Database, room_id: str, *, from_state: str, to_state: str, **values) -> bool:
    """Move the room from `from_state` to `to_state` (setting `values`); False if it was not in `from_state`."""
    return claims.claim(db, "restreams", room_id, idle=IDLE, from_state=from_state, to_state=to_state, **values)


def settle(db: sqlite_utils.Database, room_id: str, state: str, **values) -> None:
    """Record where a claimed transition ended: done, or rolled back after a failure."""
    with db.atomic():
        db["restreams"].update(room_id, {"state": state, **values})


def stop_all_in_room(db: sqlite_utils.Database, room_id: str) -> None:
    """The session ended, and with it any stream from the room."""
    with db.atomic():
        db.execute("update restreams set state = ? where room_id = ?", [IDLE, room_id])


def recover_interrupted(db: sqlite_utils.Database) -> None:
    """After a crash mid-call, assume the call did not happen: starting -> idle, stopping -> live."""
    with db.atomic():
        db.execute("update restreams set state = ? where state = ?", [IDLE, STARTING])
        db.execute("update restreams set state = ? where state = ?", [LIVE, STOPPING])
