"""A test-only provider plug-in with nothing but the core: rooms, personal links, a room list. No poll API,
so meetops runs its polls in Slack. Rooms live in the client's memory (`PolllessProvider.rooms`); a test
deletes one there to play "deleted at the provider".

Register it for a test with `monkeypatch.setitem(bot.providers.registry.DRIVERS, "pollless", "tests.pollless")`
and start the harness with `providers={"pollless": {}}, emulate={"pollless"}, meetops_provider="pollless"`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, AsyncIterator

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ProviderNotFound
from bot.providers.base import CORE, Capabilities, Capability, JoinGrant, Person, Provider, ProviderPlugin, Room, RoomSpec

NAME, TITLE = "pollless", "Pollless Meet"


class PolllessSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLLLESS_", extra="ignore", env_ignore_empty=True)

    base_url: str = Field(default="https://meet.pollless.test", description="where its rooms are (test only)")


class PolllessProvider(Provider):
    def __init__(self, settings: PolllessSettings):
        self.plugin = PLUGIN
        self.base_url = settings.base_url
        self.rooms: dict[str, Room] = {}

    async def create_room(self, spec: RoomSpec, *, idempotency_key: str = "") -> Room:
        room = Room(id=str(uuid.uuid4()), friendly_url=spec.slug, description=spec.description, privacy="public",
                    room_url=f"{self.base_url}/{spec.slug}")
        self.rooms[room.id] = room
        return room

    async def get_room(self, ref: str) -> Room:
        for room in self.rooms.values():
            if ref in (room.id, room.friendly_url):
                return room
        raise ProviderNotFound(f"{TITLE} has no room by that name.")

    async def iter_rooms(self) -> AsyncIterator[Room]:
        for room in list(self.rooms.values()):
            yield room

    async def issue_join(self, room: Room, person: Person, *, lifetime: timedelta,
                         previous: Mapping[str, Any] | None = None) -> JoinGrant:
        return JoinGrant(url=f"{room.room_url}?guest={uuid.uuid4().hex}", expires_at=None, identity_bound=False)


class _Emulator:
    """Nothing to serve: the rooms live in the client."""

    url = "memory://pollless"

    def client_settings(self) -> dict[str, Any]:
        return {}

    def stop(self) -> None:
        pass


PLUGIN = ProviderPlugin(
    name=NAME,
    title=TITLE,
    capabilities=Capabilities.of(set(), {c: f"{TITLE} has no such API." for c in Capability if c not in CORE}),
    settings_model=PolllessSettings,
    configured=lambda settings: False,
    build=lambda settings, transport=None: PolllessProvider(settings),
    start_emulator=_Emulator,
)
