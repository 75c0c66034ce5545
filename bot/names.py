"""Room names to Digital Samba `friendly_url`s: URL-safe, 3 to 32 characters, unique per team."""

from __future__ import annotations

import re
import secrets
import unicodedata

from bot.errors import BadInput
from bot.text import mrkdwn_escape

MIN_LENGTH = 3
MAX_LENGTH = 32


# Invisible and control characters: right-to-left overrides, zero-width spaces, NUL and the like.
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn"))


def clean(text: str) -> str:
    """Text a person typed, without invisible or control characters (which can disguise a name), and with
    runs of spaces folded."""
    visible = "".join(ch if unicodedata.category(ch) not in _INVISIBLE else (" " if ch in "\t\n\r" else "")
                      for ch in text or "")
    return re.sub(r"\s+", " ", visible).strip()


def slugify(name: str) -> str:
    # Apostrophes join rather than split: "Bob's room" is bob-s-room to no one.
    name = re.sub("['\u2019]", "", name)
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def friendly_url_for(name: str) -> str:
    """The link name for a room name, or BadInput saying what to change."""
    name = name.strip()
    if len(name) > MAX_LENGTH:
        raise BadInput(f"Room names can be at most {MAX_LENGTH} characters; `{mrkdwn_escape(name[:40])}…` has "
                       f"{len(name)}. Try a shorter name.")
    if not any(ch.isalnum() for ch in name):
        raise BadInput("A room name needs at least one letter or digit, for example `/meet new standup`.")
    if len(name) < MIN_LENGTH:  # the README's 3–32 characters, whatever the script (`日` is one)
        raise BadInput(f"Room names need at least {MIN_LENGTH} characters; `{mrkdwn_escape(name)}` has {len(name)}.")
    slug = slugify(name)
    if not slug:
        # Letters with no ASCII spelling (日本語, русский…): keep the name, invent the link name.
        return f"room-{secrets.token_hex(3)}"
    if len(slug) < MIN_LENGTH:
        raise BadInput(f"`{mrkdwn_escape(name)}` would make the link name `{slug}`, and link names need at least "
                       f"{MIN_LENGTH} letters or digits. Try a longer name.")
    return slug


def with_suffix(slug: str, n: int) -> str:
    """`standup` -> `standup-2`, trimmed so the result still fits in 32 characters."""
    suffix = f"-{n}"
    return slug[: MAX_LENGTH - len(suffix)].rstrip("-") + suffix
