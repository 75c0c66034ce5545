"""Block Kit rendered as plain terminal text, for the console. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

# <@U123>, <#C123|name>, <https://x|label>, <https://x>
_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
# What Slack reads between < and > in mrkdwn: a person, a channel, a special (here, a date, a group) or a link.
_CONTROL = re.compile(r"[@#!]|[a-zA-Z][a-zA-Z0-9+.-]*:")


def plain(text: str, user_name: Callable[[str], str] = lambda u: u) -> str:
    """Slack mrkdwn to readable text: mentions by name, links as `label (url)`, entities decoded.

    `user_name` names a user id, or a channel id when the link carries no label."""

    def link(m: re.Match) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("@"):
            return "@" + user_name(target[1:])
        if target.startswith("#"):
            return "#" + (label or user_name(target[1:]))
        if target.startswith("!date"):
            return label or target  # Slack would show it in the reader's time zone
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return f"{label} ({target})" if label else target

    text = _LINK.sub(link, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def stray_markup(text: str) -> list[str]:
    """The `<…>` in mrkdwn that Slack would not show as written: anything but a person, a channel, a special
    or a link. Slack reads every `<` as the start of one, so `/meet new <name>` shows "/meet new name" (as a
    link to nowhere); text meant to show a `<` says `&lt;`."""
    return [m.group(0) for m in _LINK.finditer(text) if not _CONTROL.match(m.group(1))]


def mrkdwn_texts(text: str, blocks: object, *, mrkdwn: bool = True) -> list[str]:
    """Every text of a message (or view) that Slack reads as mrkdwn: its `text` and its blocks' mrkdwn objects."""
    found = [text] if mrkdwn and isinstance(text, str) else []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return found


@dataclass(frozen=True)
class Button:
    number: int
    label: str
    action_id: str
    value: str | None
    url: str | None
    confirm: dict | None = None  # Slack's confirmation dialog, shown before the click is sent


def _text(obj: dict | None, user_name) -> str:
    """A text object as Slack shows it: plain_text (headers, button labels) as written, mrkdwn read."""
    if not obj:
        return ""
    text = obj.get("text", "")
    return text if obj.get("type") == "plain_text" else plain(text, user_name)


def render_blocks(blocks: list[dict], next_number: int, user_name=lambda u: u) -> tuple[list[str], list[Button]]:
    """Lines to print and the buttons found, numbered from `next_number` on."""
    lines: list[str] = []
    buttons: list[Button] = []

    def button(element: dict) -> str:
        b = Button(next_number + len(buttons), _text(element.get("text"), user_name), element.get("action_id", ""),
                   element.get("value"), element.get("url"), element.get("confirm"))
        buttons.append(b)
        return f"[{b.number}] {b.label}" + (f" -> {b.url}" if b.url else "")

    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {_text(block.get('text'), user_name)} ==")
        elif kind == "section":
            if block.get("text"):
                lines.extend(_text(block["text"], user_name).splitlines())
            for field in block.get("fields", []):
                lines.append("  " + " ".join(_text(field, user_name).splitlines()))
            accessory = block.get("accessory") or {}
            if accessory.get("type") == "button":
                lines.append("  " + button(accessory))
        elif kind == "actions":
            labels = [button(e) for e in block.get("elements", []) if e.get("type") == "button"]
            if labels:
                lines.append("  " + "  ".join(labels))
        elif kind == "context":
            lines.append("  (" + " ".join(_text(e, user_name) for e in block.get("elements", [])) + ")")
        elif kind == "divider":
            lines.append("  " + "-" * 40)
        elif kind == "input":
            lines.append(f"  {_text(block.get('label'), user_name)}: ____")
    return lines, buttons
