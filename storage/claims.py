"""A room's state machine in its own table (restream, recording): a transition is claimed with a
conditional UPDATE checked by its rowcount, so of two racers (a double click, two processes) exactly one wins."""

from __future__ import annotations

import sqlite_utils


def claim(db: sqlite_utils.Database, table: str, room_id: str, *, idle: str, from_state: str, to_state: str,
          **values) -> bool:
    """Move the room from `from_state` to `to_state` (setting `values`); False if it was not in `from_state`.
    A room with no row yet is `idle`. `table` is a constant of the calling module, never user input."""
    assignments = "".join(f", {name} = :{name}" for name in values)
    with db.atomic():
        db.execute(f"insert or ignore into {table} (room_id, state) values (?, ?)", [room_id, idle])
        cursor = db.execute(
            f"update {table} set state = :to_state{assignments} where room_id = :room_id and state = :from_state",
            {"room_id": room_id, "from_state": from_state, "to_state": to_state, **values},
        )
        return cursor.rowcount == 1
