"""Small text helpers for anything that reaches Slack. Pure functions, no imports from the app."""

from __future__ import annotations


def mrkdwn_escape(text: str) -> str:
    """Slack treats &, < and > as markup; user text must not become a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
