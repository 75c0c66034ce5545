"""The process's moving parts, built in `start()` and torn down in `stop()`; nothing at import time."""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import timezone

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
from storage.db import open_db

log = logging.getLogger(__name__)


class Runtime:
    """Owns the database, the provider client, the Slack client and the scheduler for one app."""

    def __init__(self, settings: Settings, *, provider: MeetingProvider | None = None, clock=utc_now,
                 http_transport: httpx.AsyncBaseTransport | None = None, sandbox: bool | None = None):
        """`sandbox=True` labels rooms as simulated although a provider URL was given (the console)."""
        self.settings = settings
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
        slack = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None,
            base_url=settings.slack_api_url,
            timeout=10,
        )
        self.services = services = Services(
            settings=settings,
            db=open_db(settings.meetops_db),
            meetings=provider,
            slack=slack,
            people=People(slack),
            sandbox=settings.sandbox if self._sandbox_label is None else self._sandbox_label,
            clock=self._clock,
        )
        services.scheduler = AsyncIOScheduler(timezone=timezone.utc)
        services.scheduler.start()
        self.app = build_app(services)
        await commands.start(services)
        return self.app

    def _build_provider(self) -> MeetingProvider:
        settings = self.settings
        if settings.sandbox:
            # No developer key: run the built-in Digital Samba sandbox on loopback and talk to it over HTTP.
            from bot.sandbox import SandboxState, start_sandbox

            self.sandbox_state = SandboxState(team_id=str(uuid.uuid4()), developer_key="sandbox-" + secrets.token_urlsafe(24))
            self.sandbox_server = start_sandbox(self.sandbox_state)
            base_url, team_id = self.sandbox_server.url + "/api/v1", self.sandbox_state.team_id
            key = self.sandbox_state.developer_key
            log.warning("SANDBOX MODE: DS_DEVELOPER_KEY is not set, so rooms live in a simulated Digital Samba at %s",
                        self.sandbox_server.url)
        else:
            base_url, team_id = settings.ds_api_url, settings.ds_team_id or ""
            key = settings.ds_developer_key.get_secret_value()
        extra = {"transport": self._http_transport} if self._http_transport else {}
        http = build_http_client(base_url, key, timeout=settings.ds_timeout_seconds, **extra)
        return DigitalSambaClient(http, team_id=team_id, developer_key=key)

    async def stop(self) -> None:
        services = self.services
        if services is None:
            return
        if services.scheduler is not None and services.scheduler.running:
            # Pending work lives in the database and is re-armed by the next start.
            services.scheduler.shutdown(wait=False)
        await services.meetings.aclose()
        services.db.close()
        if self.sandbox_server is not None:
            self.sandbox_server.stop()
            self.sandbox_server = None
        self.services = None
