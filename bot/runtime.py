"""The process's moving parts, built in `start()` and torn down in `stop()`; nothing at import time."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from datetime import timezone

import aiohttp
import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

import commands
from bot.app import build_app
from bot.config import Settings
from bot.people import People
from bot.providers.base import MeetingProvider
from bot.providers.digitalsamba import DigitalSambaClient, build_http_client
from bot.services import Services, utc_now
from bot.slack_auth import SlackAuthorization, SlackLink, slack_retry_handlers
from storage.db import open_db

log = logging.getLogger(__name__)

# Every job is armed from a database row (a pending summary, a digest schedule), one job id per
# session or channel, with `replace_existing=True`.
JOB_DEFAULTS = {
    # None: a job that comes due while the loop was busy, or whose time passed while the bot was
    # down and was re-armed at start-up, still runs however late: the row says the work is owed.
    "misfire_grace_time": None,
    # Several missed run times of one job run once: a digest missed while the bot was down is
    # posted once when it comes back, not once per missed slot.
    "coalesce": True,
    # One run per job id at a time: a slow summary poll never overlaps the next poll of the same
    # session (the database claim would stop a double post anyway; this saves the wasted call).
    "max_instances": 1,
}
BACKGROUND_GRACE_SECONDS = 10.0


async def _finish_background(services: Services) -> None:
    """Let webhook work already acknowledged finish (briefly) before the database closes."""
    tasks = list(services.background)
    if not tasks:
        return
    done, unfinished = await asyncio.wait(tasks, timeout=BACKGROUND_GRACE_SECONDS)
    for task in unfinished:
        task.cancel()
    if unfinished:
        log.warning("stopped %d unfinished background task(s); pending summaries are re-armed at start-up",
                    len(unfinished))
        await asyncio.gather(*unfinished, return_exceptions=True)


def digital_samba_client(settings: Settings, *, base_url: str | None = None, team_id: str | None = None,
                         key: str | None = None, transport: httpx.AsyncBaseTransport | None = None) -> DigitalSambaClient:
    """The Digital Samba client for these settings (or for the given sandbox URL, team and key)."""
    key = key or settings.ds_developer_key.get_secret_value()
    http = build_http_client(base_url or settings.ds_api_url, key, timeout=settings.ds_timeout_seconds,
                             transport=transport)
    return DigitalSambaClient(http, team_id=team_id or settings.ds_team_id or "", developer_key=key)


class Runtime:
    """Owns the database, the provider client, the Slack client and the scheduler for one app."""

    def __init__(self, settings: Settings, *, provider: MeetingProvider | None = None, clock=utc_now,
                 http_transport: httpx.AsyncBaseTransport | None = None, sandbox: bool | None = None,
                 slack_identity: dict | None = None):
        """`sandbox=True` labels rooms as simulated although a provider URL was given (the console).

        `slack_identity`: the `auth.test` answer `meetops serve` got while checking the token; without
        it, `start()` asks once itself.
        """
        self.settings = settings
        self._slack_identity = slack_identity
        self.slack_authorization: SlackAuthorization | None = None
        self._sandbox_label = sandbox
        self._provider = provider
        self._clock = clock
        self._http_transport = http_transport
        self.sandbox_server = None
        self.sandbox_state = None
        self.services: Services | None = None
        self.app: AsyncApp | None = None

    async def start(self) -> AsyncApp:
        settings = self.settings
        provider = self._provider or self._build_provider()
        # One aiohttp session for every Web API call: slack-sdk otherwise opens a new one per call.
        self._slack_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        slack = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None,
            base_url=settings.slack_api_url,
            timeout=10,
            session=self._slack_session,
            # 429 (after its Retry-After) and connection failures are retried by slack-sdk itself.
            retry_handlers=slack_retry_handlers(),
        )
        link = SlackLink(settings.slack_api_url)
        # Bolt would call auth.test per request until one answer is cached; this one is cached from the start.
        self.slack_authorization = authorization = SlackAuthorization(slack, link)
        if self._slack_identity is not None:
            authorization.remember(self._slack_identity)
        else:
            await authorization.refresh()
        self.services = services = Services(
            settings=settings,
            db=open_db(settings.meetops_db),
            meetings=provider,
            slack=slack,
            people=People(slack),
            sandbox=settings.sandbox if self._sandbox_label is None else self._sandbox_label,
            clock=self._clock,
            slack_link=link,
        )
        services.scheduler = AsyncIOScheduler(timezone=timezone.utc, job_defaults=JOB_DEFAULTS)
        services.scheduler.start()
        services.webhook_token = settings.ds_webhook_token.get_secret_value() if settings.ds_webhook_token else None
        if self.sandbox_server is not None:
            await self._register_sandbox_webhook(services)
        self.app = build_app(services, authorize=authorization.authorize_function(slack.token))
        await commands.start(services)
        return self.app

    async def _register_sandbox_webhook(self, services: Services) -> None:
        """Point the built-in sandbox's webhooks at this bot with a token made now and kept in memory, so
        meetings ending in the sandbox reach the bot with no set-up."""
        from commands.webhooks import WEBHOOK_EVENTS

        host = self.settings.host if self.settings.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        services.webhook_token = secrets.token_urlsafe(32)
        await services.meetings.create_webhook(endpoint=f"http://{host}:{self.settings.port}/webhooks/digitalsamba",
                                               events=WEBHOOK_EVENTS, authorization_header=services.webhook_token,
                                               name="meetops")

    def _build_provider(self) -> MeetingProvider:
        settings = self.settings
        if settings.sandbox:
            # No developer key: run the built-in Digital Samba sandbox on loopback and talk to it over HTTP.
            from bot.sandbox import SandboxState, start_sandbox

            self.sandbox_state = SandboxState(team_id=str(uuid.uuid4()), developer_key="sandbox-" + secrets.token_urlsafe(24))
            self.sandbox_server = start_sandbox(self.sandbox_state)
            log.warning("SANDBOX MODE: DS_DEVELOPER_KEY is not set, so rooms live in a simulated Digital Samba at %s",
                        self.sandbox_server.url)
            return digital_samba_client(settings, base_url=self.sandbox_server.url + "/api/v1",
                                        team_id=self.sandbox_state.team_id, key=self.sandbox_state.developer_key,
                                        transport=self._http_transport)
        log.info("Digital Samba API at %s (team %s)", settings.ds_api_url, settings.ds_team_id)
        return digital_samba_client(settings, transport=self._http_transport)

    async def stop(self) -> None:
        services = self.services
        if services is None:
            return
        if services.scheduler is not None and services.scheduler.running:
            # Pending work lives in the database and is re-armed by the next start.
            services.scheduler.shutdown(wait=False)
        await _finish_background(services)
        await services.meetings.aclose()
        await self.slack_authorization.aclose()
        await self._slack_session.close()
        services.db.close()
        if self.sandbox_server is not None:
            self.sandbox_server.stop()
            self.sandbox_server = None
        self.services = None
