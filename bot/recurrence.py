"""Repeating meetings, in RFC 5545 terms, built with dateutil.rrule (never by hand).

A meeting repeats in its own time zone: "weekly at 10:00 Europe/Berlin" stays at 10:00 across daylight
saving changes, so occurrences are expanded on local wall-clock times and then given their zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dateutil import rrule as _rrule

MAX_OCCURRENCES = 500  # a listing never expands more than this


class Repeat(StrEnum):
    NEVER = "never"
    DAILY = "daily"
    WEEKDAYS = "weekdays"
    WEEKLY = "weekly"     # on the first meeting's weekday
    MONTHLY = "monthly"   # on the first meeting's day of the month

    @classmethod
    def parse(cls, value: str | None) -> "Repeat":
        try:
            return cls((value or "never").strip().lower())
        except ValueError:
            raise ValueError(f"unknown repeat {value!r}") from None


WEEKDAYS = (_rrule.MO, _rrule.TU, _rrule.WE, _rrule.TH, _rrule.FR, _rrule.SA, _rrule.SU)
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _local(start: datetime, zone: str) -> datetime:
    """The first meeting's wall-clock time in its zone, without tzinfo (rrule's floating time)."""
    return start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def rule(repeat: Repeat, start: datetime, zone: str) -> _rrule.rrule | None:
    """The recurrence of a meeting first held at `start` (aware) in `zone`; None for a one-off."""
    if repeat is Repeat.NEVER:
        return None
    first = _local(start, zone)
    if repeat is Repeat.DAILY:
        return _rrule.rrule(_rrule.DAILY, dtstart=first)
    if repeat is Repeat.WEEKDAYS:
        return _rrule.rrule(_rrule.WEEKLY, dtstart=first, byweekday=WEEKDAYS[:5])
    if repeat is Repeat.WEEKLY:
        return _rrule.rrule(_rrule.WEEKLY, dtstart=first, byweekday=WEEKDAYS[first.weekday()])
    if repeat is Repeat.MONTHLY:
        return _rrule.rrule(_rrule.MONTHLY, dtstart=first, bymonthday=first.day)
    raise ValueError(repeat)


def rrule_line(repeat: Repeat, start: datetime, zone: str) -> str | None:
    """The RFC 5545 RRULE value (`FREQ=WEEKLY;BYDAY=MO`), without DTSTART: the start travels separately."""
    built = rule(repeat, start, zone)
    if built is None:
        return None
    for line in str(built).splitlines():
        if line.startswith("RRULE:"):
            return line.removeprefix("RRULE:")
    raise ValueError("dateutil wrote no RRULE line")


def parse_rrule_line(line: str, start: datetime, zone: str) -> _rrule.rrule:
    """An RRULE value (with or without the `RRULE:` prefix) anchored at the first meeting."""
    text = line if line.upper().startswith("RRULE:") else "RRULE:" + line
    return _rrule.rrulestr(text, dtstart=_local(start, zone))


def expand(rules: list[_rrule.rrule] | None, start: datetime, zone: str, since: datetime,
           until: datetime) -> list[datetime]:
    """Start times (aware, in `zone`) of the meeting between `since` and `until` (inclusive of `since`)."""
    tz = ZoneInfo(zone)
    if not rules:
        return [start.astimezone(tz)] if since <= start <= until else []
    lo, hi = _local(since, zone), _local(until, zone)
    found: set[datetime] = set()
    for each in rules:
        for local in each.between(lo, hi, inc=True):
            found.add(local)
            if len(found) >= MAX_OCCURRENCES:
                break
    return sorted(local.replace(tzinfo=tz) for local in found if since <= local.replace(tzinfo=tz) <= until)


def next_start(repeat: Repeat, start: datetime, zone: str, after: datetime) -> datetime | None:
    """The first start of the meeting strictly after `after` (aware, in `zone`), or None when there is none."""
    tz = ZoneInfo(zone)
    if repeat is Repeat.NEVER:
        return start.astimezone(tz) if start > after else None
    built = rule(repeat, start, zone)
    local = built.after(_local(after, zone) - timedelta(hours=3))  # a margin for clock changes
    while local is not None:
        aware = local.replace(tzinfo=tz)
        if aware > after:
            return aware
        local = built.after(local)
    return None


def describe(repeat: Repeat, start: datetime, zone: str) -> str:
    """In words, for the meeting message: "every Monday"."""
    first = _local(start, zone)
    return {
        Repeat.NEVER: "once",
        Repeat.DAILY: "every day",
        Repeat.WEEKDAYS: "every weekday (Monday to Friday)",
        Repeat.WEEKLY: f"every {DAY_NAMES[first.weekday()]}",
        Repeat.MONTHLY: f"every month on day {first.day}",
    }[repeat]
