"""Slack profiles (name, avatar, time zone), cached briefly so a busy channel costs few users.info calls."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Profile:
    user_id: str
    name: str | None
    avatar: str | None
    tz: str | None
    email: str | None = None  # needs the users:read.email scope; None without it
    is_bot: bool = False
    deleted: bool = False
    found: bool = True  # False: Slack does not know this user (or could not be asked)
    team_id: str | None = None  # their workspace (another one for a Slack Connect guest)


class People:
    def __init__(self, client: AsyncWebClient, *, ttl: float = 600.0):
        self._client = client
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Profile]] = {}

    async def get(self, user_id: str) -> Profile:
        hit = self._cache.get(user_id)
        if hit and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        try:
            user = (await self._client.users_info(user=user_id))["user"]
        except (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # A join link without a display name still works: Digital Samba asks for one.
            log.warning("users.info failed for %s: %s", user_id, getattr(exc, "response", {}).get("error") or exc)
            return Profile(user_id, None, None, None, found=False)
        profile = user.get("profile") or {}
        result = Profile(
            user_id=user_id,
            name=profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name"),
            avatar=profile.get("image_192") or profile.get("image_72"),
            tz=user.get("tz"),
            email=profile.get("email"),
            is_bot=bool(user.get("is_bot")) or user_id == "USLACKBOT",
            deleted=bool(user.get("deleted")),
            team_id=user.get("team_id"),
        )
        self._cache[user_id] = (time.monotonic(), result)
        return result
