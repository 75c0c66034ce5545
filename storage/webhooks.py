"""Webhook deliveries already seen, and the recordings whose links were posted."""

from __future__ import annotations

import sqlite_utils

from storage.db import utcnow
from storage.records import fetch, fetch_one


def first_delivery(db: sqlite_utils.Database, event: str, session_id: str, ref: str = "") -> bool:
    """Record the delivery; False when the same (event, session, ref) was seen before."""
    with db.atomic():
        cursor = db.execute(
            "insert or ignore into webhook_events (event, session_id, ref, received_at) values (?, ?, ?, ?)",
            [event, session_id, ref or "", utcnow()],
        )
    return cursor.rowcount == 1


def first_event(db: sqlite_utils.Database, provider: str, dedupe_key: str) -> bool:
    """Record a provider's event; False when the same (provider, dedupe key) was seen before."""
    with db.atomic():
        cursor = db.execute("insert or ignore into provider_events (provider, dedupe_key, received_at) "
                            "values (?, ?, ?)", [provider, dedupe_key, utcnow()])
    return cursor.rowcount == 1


def prune_deliveries(db: sqlite_utils.Database, before: str) -> int:
    """Forget deliveries received before `before` (ISO time): no provider redelivers that late."""
    with db.atomic():
        return (db.execute("delete from webhook_events where received_at < ?", [before]).rowcount
                + db.execute("delete from provider_events where received_at < ?", [before]).rowcount)


def forget_recording(db: sqlite_utils.Database, recording_id: str, *, provider: str, dedupe_key: str) -> None:
    """Posting the link failed before anything went out: let a redelivery of the event try again."""
    with db.atomic():
        db.execute("delete from recordings where id = ?", [recording_id])
        db.execute("delete from provider_events where provider = ? and dedupe_key = ?", [provider, dedupe_key])


def claim_recording(db: sqlite_utils.Database, recording_id: str, *, session_id: str, room_id: str) -> bool:
    with db.atomic():
        cursor = db.execute(
            "insert or ignore into recordings (id, session_id, room_id, created_at) values (?, ?, ?, ?)",
            [recording_id, session_id, room_id, utcnow()],
        )
    return cursor.rowcount == 1


def recording_posted(db: sqlite_utils.Database, recording_id: str, *, link: str, message_ts: str | None,
                     permalink: str | None) -> None:
    with db.atomic():
        db["recordings"].update(recording_id, {"link": link, "message_ts": message_ts, "permalink": permalink})


def recordings_for(db: sqlite_utils.Database, session_ids: list[str]) -> dict[str, list[dict]]:
    if not session_ids:
        return {}
    marks = ",".join("?" * len(session_ids))
    found: dict[str, list[dict]] = {}
    for row in fetch(db, f"select * from recordings where session_id in ({marks}) order by created_at", session_ids):
        found.setdefault(row["session_id"], []).append(row)
    return found


def recording(db: sqlite_utils.Database, recording_id: str) -> dict | None:
    """A posted recording (its room, session and thread post), or None."""
    return fetch_one(db, "select * from recordings where id = ?", [recording_id])
