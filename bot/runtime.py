"""The process's moving parts, built in `start()` and torn down in `stop()`; nothing at import time."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timezone

import aiohttp
import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

import commands
from bot import heap
from bot.app import build_app
from typing import Any

from pydantic import ValidationError

from bot.config import ConfigError, Settings
from bot.devtools.serving import stop_together
from bot.people import People
from bot.providers import registry
from bot.providers.base import Capability, ProviderPlugin
from bot.providers.registry import ProviderSet
from bot.services import Services, utc_now
from bot.slack_auth import SlackAuthorization, SlackLink, slack_retry_handlers
from storage.db import CHECKPOINT_SECONDS, checkpoint, open_db

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


def provider_settings(plugin: ProviderPlugin, overrides: dict | None = None) -> Any:
    """A provider's own settings: its env prefix, a .env file, and `overrides` (tests, the console)."""
    try:
        return plugin.settings_model(**(overrides or {}))
    except ValidationError as exc:
        prefix = plugin.settings_model.model_config.get("env_prefix", "")
        lines = [f"{prefix}{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg'].removeprefix('Value error, ')}"
                 for err in exc.errors()]
        raise ConfigError(f"meetops cannot start; invalid {plugin.title} settings:\n  - " + "\n  - ".join(lines),
                          lines) from None


def choose_default(settings: Settings, configured: list[str]) -> str:
    """MEETOPS_PROVIDER, else the only configured provider, else the first one's emulator (Digital Samba)."""
    if settings.meetops_provider:
        return registry.load(settings.meetops_provider).name
    if len(configured) == 1:
        return configured[0]
    return next(iter(registry.DRIVERS))


class Runtime:
    """Owns the database, the providers, the Slack client and the scheduler for one app."""

    def __init__(self, settings: Settings, *, clock=utc_now, http_transport: httpx.AsyncBaseTransport | None = None,
                 sandbox: bool | None = None, provider_overrides: dict[str, dict] | None = None,
                 providers: ProviderSet | None = None, emulate: set[str] | None = None,
                 slack_identity: dict | None = None):
        """`provider_overrides`: settings values per provider name (tests, the console). `emulate`: providers to
        run on their local emulator even when not the default. `sandbox=True` labels the default provider's
        rooms as simulated although a URL was given (the console). `slack_identity`: the `auth.test` answer
        `meetops serve` got while checking the token; without it, `start()` asks once itself."""
        self.settings = settings
        self._slack_identity = slack_identity
        self.slack_authorization: SlackAuthorization | None = None
        self._sandbox_label = sandbox
        self._clock = clock
        self._http_transport = http_transport
        self._overrides = provider_overrides or {}
        self._providers = providers
        self._emulate = set(emulate or ())
        self.emulators: dict[str, Any] = {}
        self.services: Services | None = None
        self.app: AsyncApp | None = None
        self.is_serving = False  # set by `serving()` once the server is bound or connected

    @property
    def sandbox_server(self):
        return self.emulators.get("digitalsamba")

    async def start(self) -> AsyncApp:
        settings = self.settings
        providers = self._providers or self.build_providers()
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
            providers=providers,
            slack=slack,
            people=People(slack),
            clock=self._clock,
            slack_link=link,
        )
        # Created, not started: jobs re-armed from the database wait until the process is serving
        # (`serving()`), so a `meetops serve` that fails to start (a busy port) runs none of them.
        services.scheduler = AsyncIOScheduler(timezone=timezone.utc, job_defaults=JOB_DEFAULTS)
        await self._connect_emulator_webhooks(services)
        self.app = build_app(services, authorize=authorization.authorize_function(slack.token))
        await commands.start(services)
        return self.app

    async def serving(self, where: str) -> None:
        """The server is bound (HTTP) or connected (Socket Mode): only now does scheduled work run,
        starting with what commands left to finish after a crash (`commands.recover`), and only now is
        "serving" logged."""
        services = self.services
        if services is None or services.scheduler.running:
            return
        services.scheduler.start()
        if self.settings.meetops_db != ":memory:":
            # A plain function: AsyncIOScheduler runs it on the loop's thread pool, so the fsyncs of a
            # checkpoint never hold up a request (storage.db).
            services.scheduler.add_job(checkpoint, IntervalTrigger(seconds=CHECKPOINT_SECONDS),
                                       args=[self.settings.meetops_db], id="db-checkpoint",
                                       name="database checkpoint", replace_existing=True)
        await commands.serving(services)
        heap.settle()
        self.is_serving = True
        log.info("serving %s", where)
        self._warn_about_download_links(services)

    def _warn_about_download_links(self, services: Services) -> None:
        """Recording links meetops serves itself (a platform with no shareable link of its own) must start with
        an address people can open, and outlive a restart: what would break them is said when serving starts."""
        real = [p for name, p in services.providers.providers.items()
                if p.serves_recordings_through_meetops and name not in services.providers.emulated]
        if not real:
            return
        titles = " and ".join(p.title for p in real)
        settings = self.settings
        if not settings.meetops_public_url and settings.host in ("0.0.0.0", "::", ""):
            log.warning("MEETOPS_PUBLIC_URL is not set, so the download links of %s recordings would start with "
                        "http://%s:%s, which nobody can open: set it to this server's public address",
                        titles, settings.host, settings.port)
        if settings.meetops_download_secret is None:
            log.warning("MEETOPS_DOWNLOAD_SECRET is not set, so the download links of %s recordings stop working "
                        "when meetops restarts: set it to a long random value", titles)

    async def _connect_emulator_webhooks(self, services: Services) -> None:
        """Point each emulator's webhooks at this bot (the client keeps the secret it registered, in memory),
        so meetings ending in an emulator reach the bot with no set-up."""
        host = self.settings.host if self.settings.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        for name in self.emulators:
            provider = services.providers.providers[name]
            if Capability.WEBHOOKS in provider.capabilities:
                await provider.register_webhook(f"http://{host}:{self.settings.port}/webhooks/{name}")

    def build_providers(self) -> ProviderSet:
        """Every provider with credentials, on its real API; the default (and any asked for) on its emulator
        when it has none."""
        built, emulated, configured = {}, set(), []
        loaded = {}
        for name in registry.DRIVERS:
            plugin = registry.load(name)
            loaded[name] = provider_settings(plugin, self._overrides.get(name))
            if plugin.configured(loaded[name]):
                configured.append(name)
        default = choose_default(self.settings, configured)
        for name, plugin_settings in loaded.items():
            plugin = registry.load(name)
            if name in configured:
                problems = getattr(plugin_settings, "problems", lambda: [])()
                if problems:
                    raise ConfigError("meetops cannot start; missing settings:\n  - " + "\n  - ".join(problems))
                log.info("%s: using its API", plugin.title)
                built[name] = plugin.build(plugin_settings, self._http_transport)
            elif name == default or name in self._emulate:
                emulator = plugin.start_emulator()
                self.emulators[name] = emulator
                merged = {**plugin_settings.model_dump(), **emulator.client_settings()}
                log.warning("SANDBOX MODE: %s has no credentials set, so its rooms live in a simulated %s at %s",
                            plugin.title, plugin.title, emulator.url)
                built[name] = plugin.build(plugin.settings_model(**merged), self._http_transport)
                emulated.add(name)
        if self._sandbox_label:  # the console: every platform it talks to is an emulator
            emulated.update(built)
        return ProviderSet(built, default, emulated)

    async def stop(self) -> None:
        services = self.services
        if services is None:
            return
        self.is_serving = False
        if services.scheduler is not None and services.scheduler.running:
            # Pending work lives in the database and is re-armed by the next start.
            services.scheduler.shutdown(wait=False)
        services.follow_ups.start_all()  # commands already answered still run, within the grace period
        await _finish_background(services)
        await services.providers.aclose()
        await self.slack_authorization.aclose()
        await self._slack_session.close()
        services.db.close()
        stop_together(self.emulators.values())
        self.emulators.clear()
        self.services = None
