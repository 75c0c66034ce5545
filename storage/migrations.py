"""Schema changes as numbered functions, applied once each, in name order.

Add a new `mNNN_what` function at the end; never edit one that has shipped.
"""

from __future__ import annotations

from typing import Callable

import sqlite_utils

MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = []


def migration(fn: Callable[[sqlite_utils.Database], None]):
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_rooms_and_audit(db: sqlite_utils.Database) -> None:
    db["rooms"].create(
        {
            "id": str,  # the provider's room id
            "team_id": str,  # Slack team
            "channel_id": str,
            "creator_id": str,
            "name": str,  # as the person typed it
            "friendly_url": str,
            "description": str,
            "privacy": str,
            "room_url": str,
            "message_channel": str,  # the room message, updated in place as things happen
            "message_ts": str,
            "status": str,  # open | live | ended | deleted
            "participants": int,
            "session_id": str,
            "session_started_at": str,
            "session_ended_at": str,
            "ended_by": str,
            "auto_summary": int,
            "created_at": str,
        },
        pk="id",
        not_null={"team_id", "channel_id", "creator_id", "name", "friendly_url", "status", "created_at"},
        defaults={"status": "open", "participants": 0, "auto_summary": 1},
    )
    db["rooms"].create_index(["team_id", "friendly_url"])
    db["rooms"].create_index(["team_id", "name"])
    db["channel_rooms"].create(
        {"team_id": str, "channel_id": str, "room_id": str, "created_at": str},
        pk=("team_id", "channel_id"),
        foreign_keys=[("room_id", "rooms", "id")],
    )
    db["audit_log"].create(
        {"id": int, "at": str, "team_id": str, "user_id": str, "action": str, "room_id": str, "detail": str},
        pk="id",
    )
    db["audit_log"].create_index(["room_id"])
