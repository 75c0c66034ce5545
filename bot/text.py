"""Small text helpers for anything that reaches Slack. Pure functions, no imports from the app."""

from __future__ import annotations

from datetime import datetime, timedelta


def mrkdwn_escape(text: str) -> str:
    """Slack treats &, < and > as markup; user text must not become a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def slack_date(moment: datetime) -> str:
    """A date and time Slack shows in each reader's own time zone (the fallback is UTC)."""
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{moment:%d %b %H:%M} UTC>"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def natural_duration(span: timedelta) -> str:
    """A lifetime in the units people use: "1 hour", "30 minutes", "7 days", "1 hour 30 minutes", and under
    a minute in seconds (never more than it is)."""
    if span.total_seconds() < 60:
        return plural(max(1, int(span.total_seconds())), "second")
    minutes = round(span.total_seconds() / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days and not rest:
        return plural(days, "day")
    if days:
        return f"{plural(days, 'day')} {plural(hours, 'hour')}" if hours else plural(days, "day")
    if hours and minutes:
        return f"{plural(hours, 'hour')} {plural(minutes, 'minute')}"
    return plural(hours, "hour") if hours else plural(minutes, "minute")
