"""Reading rows: a dataclass from a row, and plain SELECTs.

`fetch` runs a SELECT as one statement. sqlite-utils' `Database.query` wraps every read in a
SAVEPOINT (so that a write slipped into it can be refused and undone): three statements per read,
and on `/meet new`'s path about a third of its SQLite time. Everything read here is a plain SELECT
written in this package, so the guard buys nothing.
"""

from __future__ import annotations

from dataclasses import fields
from functools import cache
from typing import Any, Iterator, Sequence, TypeVar

import sqlite_utils

R = TypeVar("R", bound="Record")


def fetch(db: sqlite_utils.Database, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Iterator[dict]:
    """The rows of one SELECT as dicts, read lazily (as `Database.query` returns them)."""
    cursor = db.execute(sql, params)
    keys = [column[0] for column in cursor.description]
    return (dict(zip(keys, row)) for row in cursor)


def fetch_one(db: sqlite_utils.Database, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> dict | None:
    """The first row of one SELECT as a dict, or None."""
    return next(fetch(db, sql, params), None)


@cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


class Record:
    @classmethod
    def from_row(cls: type[R], row: dict) -> R:
        names = _field_names(cls)
        return cls(**{k: v for k, v in row.items() if k in names})
