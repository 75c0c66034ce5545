"""Each room's recording, when started from Slack: idle -> starting -> on -> stopping -> idle.

A transition is claimed with one conditional UPDATE, so of two clicks racing for it exactly one wins
and makes the API call; a failed call rolls the claim back.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from storage import claims
from storage.records import fetch_one

IDLE, STARTING, ON, STOPPING = "idle", "starting", "on", "stopping"


@dataclass(frozen=True)
class RecordingState:
    room_id: str
    state: str
    started_by: str | None = None
    started_at: str | None = None


def get(db: sqlite_utils.Database, room_id: str) -> RecordingState:
    row = fetch_one(db, "select * from recording_state where room_id = ?", [room_id])
    return RecordingState(**row) if row else RecordingState(room_id=room_id, state=IDLE)


def is_on(db: sqlite_utils.Database, room_id: str) -> bool:
    return get(db, room_id).state in (ON, STOPPING)


def claim(db: sqlite_utils.Database, room_id: str, *, from_state: str, to_state: str, **values) -> bool:
    """Move the room from `from_state` to `to_state` (setting `values`); False if it was not in `from_state`."""
    return claims.claim(db, "recording_state", room_id, idle=IDLE, from_state=from_state, to_state=to_state, **values)


def settle(db: sqlite_utils.Database, room_id: str, state: str) -> None:
    """Where a claimed transition ended: done, or rolled back after a failure."""
    with db.atomic():
        db["recording_state"].update(room_id, {"state": state})


def stop(db: sqlite_utils.Database, room_id: str) -> bool:
    """The meeting ended (or its recording is ready): no recording runs any more. True if one did."""
    with db.atomic():
        cursor = db.execute("update recording_state set state = ? where room_id = ? and state != ?",
                            [IDLE, room_id, IDLE])
        return cursor.rowcount == 1


def recover_interrupted(db: sqlite_utils.Database) -> None:
    """After a crash mid-call, assume the call did not happen: starting -> idle, stopping -> on."""
    with db.atomic():
        db.execute("update recording_state set state = ? where state = ?", [IDLE, STARTING])
        db.execute("update recording_state set state = ? where state = ?", [ON, STOPPING])
