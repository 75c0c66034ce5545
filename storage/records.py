"""A dataclass read from a database row, ignoring columns it doesn't declare."""

from __future__ import annotations

from dataclasses import fields
from typing import TypeVar

R = TypeVar("R", bound="Record")


class Record:
    @classmethod
    def from_row(cls: type[R], row: dict) -> R:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in row.items() if k in names})
