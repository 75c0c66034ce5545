"""Who the bot is on Slack, asked once: Bolt's authorization without an `auth.test` on the ack's path.

Bolt's single-workspace authorization calls `auth.test` for every request until one answer is
cached: the first burst of commands after start-up makes up to one call per request before it can
ack, and with Slack out of reach every command fails with HTTP 500. meetops asks `auth.test` at
start-up anyway; `SlackAuthorization` keeps that answer and hands it to Bolt through its documented
`authorize` hook. The answer is refreshed in the background, one call at a time, never while a
request waits for its ack. With no answer yet (Slack was out of reach at start-up) a request is
authorized with the bot token alone: a slash command or a click needs nothing more.

`SlackLink` notices Slack's API going away and coming back, so an outage is logged once, not once
per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Mapping

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# How long an auth.test answer is trusted before it is asked again (in the background).
MAX_AGE_SECONDS = 3600.0
# While Slack is out of reach (or no answer was ever had), ask again at most this often.
RETRY_SECONDS = 5.0


def slack_retry_handlers() -> list[AsyncRetryHandler]:
    """slack-sdk's own retry handlers for every Web API call the bot makes.

    - 429: wait the `Retry-After` Slack sends, then try again (Slack did nothing with the call).
    - A connection refused, reset or dropped: slack-sdk's default error types, with backoff.
    No retry on 5xx: `chat.postMessage` is not idempotent and a 500 may come after the post
    went out (a retried post would show twice).
    """
    return [AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2)]


def is_slack_unreachable(error: BaseException) -> bool:
    """A failure that says Slack's API could not be reached (or answered as if it were down)."""
    if isinstance(error, (aiohttp.ClientConnectionError, asyncio.TimeoutError)):
        return True
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 200)
        return status >= 500
    return False


class SlackLink:
    """Whether Slack's Web API answers. The start and the end of an outage are logged once each."""

    def __init__(self, api_url: str, *, clock: Callable[[], float] = time.monotonic):
        self.api_url = api_url
        self._clock = clock
        self.down_since: float | None = None
        self.failures = 0  # failed calls seen during the current outage
        self.on_down: Callable[[], None] | None = None  # called when an outage starts

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        if self.down_since is None:
            self.down_since = self._clock()
            log.warning("Slack's API at %s is out of reach (%s); commands are still acknowledged, and what they "
                        "post will fail until it answers. Logged once until then.",
                        self.api_url, _describe(error))
            if self.on_down is not None:
                self.on_down()

    def answered(self) -> None:
        if self.down_since is not None:
            log.warning("Slack's API answers again after %.0f s (%d failed call%s)",
                        self._clock() - self.down_since, self.failures, "" if self.failures == 1 else "s")
            self.down_since = None
            self.failures = 0


def _describe(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        return f"HTTP {getattr(error.response, 'status_code', '?')}"
    return type(error).__name__


class SlackAuthorization:
    """One cached `auth.test` answer for Bolt's `authorize` hook, refreshed in the background."""

    def __init__(self, client: AsyncWebClient, link: SlackLink, *, max_age: float = MAX_AGE_SECONDS,
                 retry_every: float = RETRY_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._client = client
        self.link = link
        link.on_down = self._probe_until_back
        self._max_age = max_age
        self.retry_every = retry_every
        self._clock = clock
        self.answer: dict[str, Any] | None = None
        self._answered_at = 0.0
        self._tried_at: float | None = None
        self._refusal_logged = False
        self._refreshing: asyncio.Task | None = None
        self._probing: asyncio.Task | None = None

    def remember(self, answer: Mapping[str, Any]) -> None:
        """Keep an `auth.test` answer (the one `meetops serve` got while checking the token)."""
        self.answer = dict(answer)
        self._answered_at = self._tried_at = self._clock()

    async def refresh(self) -> bool:
        """Ask `auth.test` once; True when Slack answered. Never raises: the caller is the app."""
        self._tried_at = self._clock()
        try:
            response = await self._client.auth_test()
        except SlackApiError as exc:
            if is_slack_unreachable(exc):
                self.link.failed(exc)
                return False
            self.link.answered()
            if not self._refusal_logged:  # a revoked token: said once, the commands' replies say the rest
                self._refusal_logged = True
                log.error("Slack refused SLACK_BOT_TOKEN (%s); replies and room messages will fail until the "
                          "token is replaced", exc.response.get("error"))
            return False
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self.link.failed(exc)
            return False
        self.remember(response.data)
        self._refusal_logged = False
        self.link.answered()
        return True

    def _probe_until_back(self) -> None:
        """Slack went out of reach: ask auth.test every `retry_every` s until it answers, so its return is
        noticed (and logged) even with no request coming in, and a first answer is cached."""
        if self._probing is not None and not self._probing.done():
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a unit test): nothing to probe from

        async def probe() -> None:
            # A refused token is not an outage: said once by refresh(), and no use asking again and again.
            while (self.link.down or self.answer is None) and not self._refusal_logged:
                await asyncio.sleep(self.retry_every)
                if self._refreshing is None or self._refreshing.done():  # one call at a time
                    await self.refresh()

        self._probing = asyncio.create_task(probe(), name="slack-auth-probe")

    def _refresh_in_background(self) -> None:
        """An answer older than `max_age` is asked again, once, while requests go on with the old one."""
        if self.answer is None or self.link.down or self._clock() - self._answered_at < self._max_age:
            return  # fresh, or the probe is on it
        if self._refreshing is not None and not self._refreshing.done():
            return  # one call at a time
        if self._tried_at is not None and self._clock() - self._tried_at < self.retry_every:
            return
        self._tried_at = self._clock()
        self._refreshing = asyncio.create_task(self.refresh(), name="slack-auth-refresh")

    def authorize_function(self, token: str | None) -> Callable[..., Awaitable[AuthorizeResult]]:
        """The function to pass as `AsyncApp(authorize=...)`. Bolt passes arguments by name."""

        async def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
            self._refresh_in_background()
            answer = self.answer
            if answer is not None:
                # What Bolt's own single-workspace authorization builds from its cached auth.test answer.
                return AuthorizeResult(enterprise_id=answer.get("enterprise_id"), team_id=answer.get("team_id"),
                                       team=answer.get("team"), url=answer.get("url"), bot_id=answer.get("bot_id"),
                                       bot_user_id=answer.get("user_id"), bot_token=token, user_id=user_id)
            # Not known yet (Slack out of reach since start-up): the request's own team and the bot token
            # are all a command or a click needs; the bot's own ids follow with the first answer.
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token, user_id=user_id)

        return authorize

    async def aclose(self) -> None:
        for task in (self._refreshing, self._probing):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
