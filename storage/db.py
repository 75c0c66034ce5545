"""Open the database and bring its schema up to date."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone

import sqlite_utils

from storage.migrations import MIGRATIONS

log = logging.getLogger(__name__)


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_db(path: str = ":memory:") -> sqlite_utils.Database:
    """One connection, used from the bot's event loop thread only.

    `check_same_thread=False` because the loop may run on a thread other than the
    one that opened the file (tests, the console); access is still never concurrent.
    """
    conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
    db = sqlite_utils.Database(conn)
    if path != ":memory:":
        db.enable_wal()
        db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    migrate(db)
    return db


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply, in order, every numbered migration the database has not seen yet."""
    db["_migrations"].create({"name": str, "applied_at": str}, pk="name", if_not_exists=True)
    done = {row["name"] for row in db["_migrations"].rows}
    applied = []
    for migration in sorted(MIGRATIONS, key=lambda fn: fn.__name__):
        if migration.__name__ in done:
            continue
        with db.atomic():
            migration(db)
            db["_migrations"].insert({"name": migration.__name__, "applied_at": utcnow()})
        log.info("applied migration %s", migration.__name__)
        applied.append(migration.__name__)
    return applied
