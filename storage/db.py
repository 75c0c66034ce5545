"""Open the database and bring its schema up to date."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone

import sqlite_utils

from storage.migrations import migrations

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 10
WAL_AUTOCHECKPOINT_PAGES = 10_000  # about 40 MB


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_db(path: str = ":memory:") -> sqlite_utils.Database:
    """One connection, used from the bot's event loop thread only.

    `check_same_thread=False` because the loop may run on a thread other than the
    one that opened the file (tests, the console); access is still never concurrent.
    """
    # isolation_level=None: a lone write commits by itself, as one statement. Python's default wraps each in
    # its own BEGIN and COMMIT: three statements, each handing the GIL away while SQLite runs, and during a
    # burst of `/meet new` (benchmarks/ack_latency.py) every statement on the event loop costs 60-160 µs.
    # Every write that must go with another is in `db.atomic()`, which says BEGIN and COMMIT itself either way.
    conn = sqlite3.connect(path, check_same_thread=False, timeout=10, isolation_level=None)
    db = sqlite_utils.Database(conn)
    if path != ":memory:":
        db.enable_wal()
        db.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint (the WAL copied into the database file, with two fsyncs) took up to 20 ms, run by
        # whichever commit crossed SQLite's default 1,000 pages: on the event loop, in the middle of a
        # burst of commands. `checkpoint` runs it on a thread every CHECKPOINT_SECONDS instead; this
        # higher mark only bounds the WAL should that job not run.
        db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    db.execute("PRAGMA foreign_keys=ON")
    migrate(db)
    return db


def checkpoint(path: str) -> None:
    """Copy what the WAL holds into the database file, from a connection of its own, so it can run on a
    thread. PASSIVE: it never waits for the bot's connection; what it can't copy now goes next time."""
    conn = sqlite3.connect(path, timeout=1)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.close()


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
