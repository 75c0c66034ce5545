"""Open the database and bring its schema up to date."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone

import sqlite_utils

from storage.migrations import migrations

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
    """Apply every migration the database has not seen yet; returns their names."""
    _adopt_legacy_records(db)
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    for name in pending:
        log.info("applied migration %s", name)
    return pending


def _adopt_legacy_records(db: sqlite_utils.Database) -> None:
    """Databases from before `sqlite_utils.Migrations` listed applied migrations in `_migrations`:
    record them in Migrations' own table so they are not applied again."""
    if not db["_migrations"].exists():
        return
    migrations.ensure_migrations_table(db)
    known = {m.name for m in migrations.applied(db)}
    with db.atomic():
        for row in db["_migrations"].rows:
            if row["name"] not in known:
                db[migrations.migrations_table].insert(
                    {"migration_set": migrations.name, "name": row["name"], "applied_at": row["applied_at"]})
        db["_migrations"].drop()
