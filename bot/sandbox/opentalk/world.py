"""The OpenTalk emulator's world: users, OIDC tokens, events with their rooms, invite codes, SIP dial-in,
streaming targets and recording assets. Changed only from the emulator's own event loop."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.sandbox.kit import Refusal, World

MODULE_WORDS = {
    "join": "OpenTalk's REST API has no way to put someone in a meeting: people join from the web app with "
            "their link, and who is in a meeting is only known inside it (signaling).",
    "leave": "OpenTalk's REST API does not know who is in a meeting, so nobody can leave through it.",
    "end": "OpenTalk's REST API cannot end a meeting without deleting its room: ending is done from inside "
           "the meeting.",
    "summary": "OpenTalk has no meeting summaries.",
}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment.utcoffset() == timedelta(0) else moment.isoformat()


def digits(n: int = 10) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


@dataclass
class User:
    id: str
    email: str
    firstname: str
    lastname: str
    username: str = ""
    password: str = ""

    def profile(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "title": "", "firstname": self.firstname,
                "lastname": self.lastname, "display_name": f"{self.firstname} {self.lastname}".strip(),
                "avatar_url": f"https://gravatar.example/avatar/{self.id[:8]}"}


@dataclass
class Oidc:
    client_id: str
    client_secret: str
    token_lifetime: int = 60        # seconds an access token lives (short, so refresh is exercised)
    refresh_lifetime: int = 1800
    access: dict[str, datetime] = field(default_factory=dict)   # token -> expires
    refresh: dict[str, datetime] = field(default_factory=dict)
    grants: dict[str, int] = field(default_factory=lambda: {"password": 0, "refresh_token": 0})
    refused: int = 0  # 401s answered to API calls


@dataclass
class RoomState:
    id: str
    created_by: str
    created_at: datetime
    waiting_room: bool = False
    password: str | None = None
    e2e_encryption: bool = False
    event_id: str | None = None
    sip: dict[str, Any] | None = None
    invites: dict[str, dict[str, Any]] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)   # id -> resource + "_data"


class OpenTalkWorld(World):
    secret_fields = frozenset({"password", "client_secret", "refresh_token", "access_token", "streaming_key"})

    def __init__(self, clock=None):
        super().__init__(clock)
        self.call_in_tel: str | None = "+49 30 555 0100"   # None: this deployment has no call-in
        self.user_search = True
        self._seed()

    def _seed(self) -> None:
        self.bot = User(str(uuid.uuid4()), "meetops@example.com", "meetops", "bot", username="meetops",
                        password="bot-" + secrets.token_urlsafe(12))
        self.users: dict[str, User] = {self.bot.id: self.bot}
        for first, last in (("Ada", "Lovelace"), ("Linus", "Torvalds")):
            self.add_user(f"{first.lower()}@example.com", first, last)
        self.oidc = Oidc(client_id="meetops", client_secret="secret-" + secrets.token_urlsafe(16))
        self.events: dict[str, dict[str, Any]] = {}
        self.rooms: dict[str, RoomState] = {}
        self.emails_sent: list[dict[str, str]] = []  # e-mail invitations OpenTalk would have sent

    def reset(self) -> None:
        super().reset()
        secret, lifetime = self.oidc.client_secret, self.oidc.token_lifetime
        bot = self.bot
        self._seed()
        # keep the bot's credentials: the client pointed here must keep working
        self.users.pop(self.bot.id)
        self.bot = bot
        self.users[bot.id] = bot
        self.oidc.client_secret, self.oidc.token_lifetime = secret, lifetime

    def add_user(self, email: str, firstname: str, lastname: str = "") -> User:
        user = User(str(uuid.uuid4()), email, firstname, lastname)
        self.users[user.id] = user
        return user

    # -- OIDC ----------------------------------------------------------------------

    def issue_tokens(self) -> dict[str, Any]:
        access, refresh = "at-" + secrets.token_urlsafe(24), "rt-" + secrets.token_urlsafe(24)
        now = self.now()
        self.oidc.access[access] = now + timedelta(seconds=self.oidc.token_lifetime)
        self.oidc.refresh[refresh] = now + timedelta(seconds=self.oidc.refresh_lifetime)
        return {"access_token": access, "token_type": "Bearer", "expires_in": self.oidc.token_lifetime,
                "refresh_token": refresh, "refresh_expires_in": self.oidc.refresh_lifetime, "scope": "openid"}

    def token_state(self, token: str | None) -> str:
        """"valid", "expired" or "invalid"."""
        expires = self.oidc.access.get(token or "")
        if expires is None:
            return "invalid"
        return "valid" if expires > self.now() else "expired"

    def expire_tokens(self) -> None:
        """Every access token ends now (as if the server's clock ran ahead of the bot's)."""
        for token in self.oidc.access:
            self.oidc.access[token] = self.now() - timedelta(seconds=1)

    def revoke_tokens(self, *, refresh: bool = False) -> None:
        self.oidc.access.clear()
        if refresh:
            self.oidc.refresh.clear()

    # -- lookups -------------------------------------------------------------------

    def room(self, room_id: str) -> RoomState:
        room = self.rooms.get(room_id)
        if room is None:
            raise Refusal(404, "A requested resource could not be found", {"code": "not_found"})
        return room

    def event(self, event_id: str) -> dict[str, Any]:
        event = self.events.get(event_id)
        if event is None:
            raise Refusal(404, "A requested resource could not be found", {"code": "not_found"})
        return event

    def delete_room(self, room_id: str) -> None:
        room = self.rooms.pop(room_id, None)
        if room and room.event_id:
            self.events.pop(room.event_id, None)

    # -- sim verbs: what the console's `sim` commands do ---------------------------

    def _sim_room(self, ref: str) -> RoomState:
        if ref in self.rooms:
            return self.rooms[ref]
        for room in self.rooms.values():  # by the event's title too, as people type it
            event = self.events.get(room.event_id or "")
            if event and event["title"].casefold() == ref.casefold():
                return room
        raise Refusal(404, f"There is no room '{ref}' in the OpenTalk emulator.")

    def sim_join(self, room: str, name: str) -> Any:
        self._sim_room(room)
        raise Refusal(422, MODULE_WORDS["join"])

    def sim_leave(self, room: str, name: str) -> Any:
        self._sim_room(room)
        raise Refusal(422, MODULE_WORDS["leave"])

    def sim_end(self, room: str) -> Any:
        self._sim_room(room)
        raise Refusal(422, MODULE_WORDS["end"])

    def sim_summary(self, room: str) -> Any:
        self._sim_room(room)
        raise Refusal(422, MODULE_WORDS["summary"])

    def sim_recording(self, room: str) -> Any:
        """The recorder uploaded a recording: a room asset of namespace `recording`."""
        state = self._sim_room(room)
        now = self.now()
        data = b"WEBM" + secrets.token_bytes(2048)
        asset = {"id": str(uuid.uuid4()), "filename": f"recording_{now:%Y-%m-%d_%H-%M-%S}.webm",
                 "namespace": "recording", "kind": "record", "created_at": _iso(now), "size": len(data)}
        state.assets[asset["id"]] = {**asset, "_data": data}
        return {"message": f"A recording ({asset['filename']}) is now stored with the room.", "asset": asset}

    def snapshot(self) -> dict[str, Any]:
        return {
            "users": [u.profile() for u in self.users.values()],
            "events": list(self.events.values()),
            "rooms": {rid: {"event_id": r.event_id, "waiting_room": r.waiting_room, "sip": bool(r.sip),
                            "invites": [{k: v for k, v in i.items() if k != "invite_code"} | {"code_tail": i["invite_code"][-4:]}
                                        for i in r.invites.values()],
                            "streaming_targets": [{k: v for k, v in t.items() if k != "streaming_key"}
                                                  for t in r.targets.values()],
                            "assets": [{k: v for k, v in a.items() if k != "_data"} for a in r.assets.values()]}
                      for rid, r in self.rooms.items()},
            "oidc": {"grants": dict(self.oidc.grants), "token_lifetime": self.oidc.token_lifetime,
                     "refused": self.oidc.refused},
            "emails_sent": list(self.emails_sent),
        }
