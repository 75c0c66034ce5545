"""Signed, expiring download links that meetops serves itself.

Some providers keep recordings behind the bot's own credentials, with no shareable link.
meetops then hands out `<base>/downloads/<token>`: the token names the room and the recording and when
the link expires, signed with HMAC-SHA256 under a server secret. The route checks the signature in
constant time and the expiry BEFORE it looks anything up, answers 403 when either is wrong (nothing is
streamed), and otherwise streams the file from the provider with the bot's credentials, so no provider
token ever reaches Slack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

PREFIX = "/downloads/"
DEFAULT_LIFETIME = timedelta(hours=24)


class BadLink(Exception):
    """The link was tampered with, is malformed or has expired; `reason` is for the log, not the answer."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DownloadRef:
    room_id: str        # meetops' room id (the provider's room id)
    recording_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, b"meetops-download:" + payload.encode(), hashlib.sha256).digest())


def sign(secret: bytes, *, room_id: str, recording_id: str, expires_at: datetime) -> str:
    payload = _b64(json.dumps({"r": room_id, "a": recording_id, "e": int(expires_at.timestamp())},
                              separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: bytes, token: str, *, now: datetime) -> DownloadRef:
    """The link's content, or BadLink. The signature is checked (in constant time) before the payload is read."""
    payload, dot, mac = (token or "").partition(".")
    if not dot or not payload or not mac or len(token) > 1024:
        raise BadLink("malformed")
    if not hmac.compare_digest(mac.encode(), _mac(secret, payload).encode()):
        raise BadLink("bad signature")
    try:
        data = json.loads(_unb64(payload))
        ref = DownloadRef(room_id=str(data["r"]), recording_id=str(data["a"]),
                          expires_at=datetime.fromtimestamp(int(data["e"]), timezone.utc))
    except (ValueError, KeyError, TypeError):
        raise BadLink("unreadable payload") from None
    if ref.expires_at <= now:
        raise BadLink("expired")
    return ref


def link(base_url: str, secret: bytes, *, room_id: str, recording_id: str, now: datetime,
         lifetime: timedelta = DEFAULT_LIFETIME) -> tuple[str, datetime]:
    expires = now + lifetime
    return (base_url.rstrip("/") + PREFIX + sign(secret, room_id=room_id, recording_id=recording_id,
                                                 expires_at=expires), expires)
