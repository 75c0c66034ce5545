"""What handlers depend on, built once per process by `bot.runtime` and handed to them through Bolt's context."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable, Coroutine

import sqlite_utils
from slack_sdk.web.async_client import AsyncWebClient

from bot.acks import FollowUps
from bot.config import Settings
from bot.people import People
from bot.providers.base import Provider
from bot.providers.registry import ProviderSet

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Services:
    settings: Settings
    db: sqlite_utils.Database
    providers: ProviderSet
    slack: AsyncWebClient
    people: People
    clock: Callable[[], datetime] = utc_now
    scheduler: Any = None  # apscheduler AsyncIOScheduler, set by the runtime when it starts
    # Keys of clicks being handled right now, so a double click is handled once.
    in_flight: set[str] = field(default_factory=set)
    # Work started by a webhook after its fast 200, kept so it is not garbage-collected
    # mid-flight and so the runtime can let it finish before closing the database.
    background: set[asyncio.Task] = field(default_factory=set)
    # Signs the download links meetops serves (when MEETOPS_DOWNLOAD_SECRET is unset): memory only.
    download_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    # One lock per room whose message is being re-rendered, so concurrent updates land in order.
    room_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    # `turn()`'s locks, each with how many hold or wait for it (gone when none do: keys are as many as names).
    _turns: dict[str, list] = field(default_factory=dict)
    # bot.slack_auth.SlackLink: whether Slack's API answers, so an outage is logged once, not per request.
    slack_link: Any = None
    # Listeners still at work (acked, follow-up running; bot.boundary counts them): the dev harness waits for them.
    listeners_running: int = 0
    # Work of slash commands already answered, started a few per event-loop turn (bot.acks.FollowUps).
    follow_ups: FollowUps = field(init=False)

    def __post_init__(self) -> None:
        self.follow_ups = FollowUps(self.spawn)

    @contextlib.asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """One at a time per `key` (for example the same room name asked for twice at once): the others wait."""
        entry = self._turns.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._turns[key]

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self.background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def provider(self, room) -> Provider:
        """The provider a room lives on (never a global one)."""
        return self.providers.get(getattr(room, "provider", None))

    def emulated(self, room) -> bool:
        """Whether the room's provider is the local emulator (said on every room message)."""
        return self.providers.emulated_here(getattr(room, "provider", None))

    @property
    def sandbox(self) -> bool:
        """Whether the default provider runs on its emulator."""
        return self.providers.default_name in self.providers.emulated

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.settings.admins
