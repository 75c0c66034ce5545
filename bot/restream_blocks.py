"""Livestreams in Block Kit: the Go live form and its validation. Pure functions.

The stream key is a secret: it is read from the form into a `StreamTarget`, whose
repr hides it, and no message built here ever contains it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.models.blocks import (
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot import ids
from bot.text import mrkdwn_escape

CUSTOM = "custom"
PLATFORMS = {"youtube": "YouTube", "vimeo": "Vimeo", "cloudflare": "Cloudflare"}
SCHEMES = ("rtmp", "rtmps")
MAX_URL = 500
MAX_KEY = 500


@dataclass(frozen=True)
class StreamTarget:
    """Where to stream: a platform `type` or a custom `server_url`, never both."""

    label: str  # what people see: "YouTube", or the custom server's scheme and host
    type: str | None = None
    server_url: str | None = field(default=None, repr=False)
    stream_key: str = field(default="", repr=False)


def destination_label(type_: str | None, server_url: str | None) -> str:
    """A platform's name, or only the scheme and host of a custom URL: its path may hold credentials."""
    if type_:
        return PLATFORMS.get(type_, type_)
    parts = urlsplit(server_url or "")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in SCHEMES or not parts.hostname or any(c.isspace() for c in url):
        return "Give the server's address, starting with rtmp:// or rtmps://, for example rtmps://live.example.com/app."
    return None


def target_from_form(values: dict[str, Any]) -> tuple[StreamTarget | None, dict[str, str]]:
    """Where the form says to stream, or the inline errors to show, keyed by block id. Errors never quote the key."""
    destination = values.get(ids.RESTREAM_DESTINATION_BLOCK)
    url = (values.get(ids.RESTREAM_URL_BLOCK) or "").strip()
    key = (values.get(ids.RESTREAM_KEY_BLOCK) or "").strip()
    errors: dict[str, str] = {}
    if destination != CUSTOM and destination not in PLATFORMS:
        errors[ids.RESTREAM_DESTINATION_BLOCK] = "Choose where to stream: YouTube, Vimeo, Cloudflare or a custom server."
    elif destination == CUSTOM and not url:
        errors[ids.RESTREAM_URL_BLOCK] = "A custom destination needs its server URL (rtmp:// or rtmps://)."
    elif destination == CUSTOM and (problem := _url_problem(url)):
        errors[ids.RESTREAM_URL_BLOCK] = problem
    elif destination != CUSTOM and url:
        errors[ids.RESTREAM_URL_BLOCK] = (f"{PLATFORMS[destination]} needs no server URL: clear it, "
                                          "or choose a custom server.")
    if not key:
        errors[ids.RESTREAM_KEY_BLOCK] = "Paste the stream key your streaming service gave you."
    elif any(c.isspace() for c in key):
        errors[ids.RESTREAM_KEY_BLOCK] = "A stream key has no spaces in it; please paste it again."
    if errors:
        return None, errors
    if destination == CUSTOM:
        return StreamTarget(label=destination_label(None, url), server_url=url, stream_key=key), {}
    return StreamTarget(label=PLATFORMS[destination], type=destination, stream_key=key), {}


_DESTINATIONS = [Option(value=value, label=label) for value, label in PLATFORMS.items()] + [
    Option(value=CUSTOM, label="Custom RTMP server")]


def restream_modal(room_name: str, metadata: str) -> dict:
    return View(
        type="modal", callback_id=ids.RESTREAM_MODAL, title="Go live", submit="Start streaming", close="Cancel",
        private_metadata=metadata,
        blocks=[
            SectionBlock(text=MarkdownTextObject(
                text=f"Stream the meeting in *{mrkdwn_escape(room_name)}* live. It needs people in it first "
                     "(where the platform starts the stream from the meeting, this sets up the destination).")),
            InputBlock(block_id=ids.RESTREAM_DESTINATION_BLOCK, label="Destination",
                       element=RadioButtonsElement(action_id=ids.RESTREAM_DESTINATION, options=_DESTINATIONS)),
            InputBlock(block_id=ids.RESTREAM_URL_BLOCK, label="Server URL (custom server only)", optional=True,
                       element=PlainTextInputElement(action_id=ids.RESTREAM_URL, max_length=MAX_URL,
                                                     placeholder="rtmps://live.example.com/app")),
            InputBlock(block_id=ids.RESTREAM_KEY_BLOCK, label="Stream key",
                       hint="Kept secret: meetops passes it to the room's meeting platform and never shows, logs or "
                            "stores it itself.",
                       element=PlainTextInputElement(action_id=ids.RESTREAM_KEY, max_length=MAX_KEY)),
        ],
    ).to_dict()
