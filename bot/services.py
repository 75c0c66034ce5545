"""What handlers depend on, built once per process by `bot.runtime` and handed to them through Bolt's context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import sqlite_utils
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.people import People
from bot.providers.base import MeetingProvider


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Services:
    settings: Settings
    db: sqlite_utils.Database
    meetings: MeetingProvider
    slack: AsyncWebClient
    people: People
    sandbox: bool = False
    clock: Callable[[], datetime] = utc_now
    scheduler: Any = None  # apscheduler AsyncIOScheduler, set by the runtime when it starts
    # Keys of clicks being handled right now, so a double click is handled once.
    in_flight: set[str] = field(default_factory=set)

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.settings.admins
