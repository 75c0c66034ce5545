"""The real meetops app, served over HTTP on loopback, wired to the sandbox and the Slack double.

Tests, the console and the benchmark all drive meetops through this: signed
requests go in over HTTP, Web API calls come out to the Slack double, and the
Digital Samba client talks HTTP to the sandbox. The bot runs on the caller's
event loop, so a test can look at the database and the scheduler directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from datetime import datetime
from typing import Callable

import httpx
import uvicorn

from bot.config import Settings
from bot.devtools.serving import BackgroundServer, PromptStop, free_port, stop_together
from bot.devtools.slack_double import SlackDouble
from bot.devtools.slack_user import SlackUser
from bot.runtime import Runtime
from bot.sandbox import SandboxState, start_sandbox
from bot.server import ServingServer, create_asgi_app
from bot.services import Services, utc_now

SIGNING_SECRET = "test-signing-secret"
WEBHOOK_TOKEN = "test-webhook-token"


class _BotServer(PromptStop, ServingServer):
    """`meetops serve`'s server, stopped at once when a test is over."""


class Harness:
    def __init__(
        self,
        *,
        db_path: str = ":memory:",
        admins: str = "",
        clock: Callable[[], datetime] = utc_now,
        sandbox_state: SandboxState | None = None,
        sandbox_url: str | None = None,
        register_webhooks: bool = False,
        label_sandbox: bool = False,
        providers: dict[str, dict] | None = None,
        emulate: set[str] | tuple[str, ...] = (),
        **settings: object,
    ):
        self.db_path = db_path
        self.admins = admins
        self.clock = clock
        self.sandbox_state = sandbox_state or SandboxState(
            team_id=str(uuid.uuid4()), developer_key="test-dev-key-" + secrets.token_hex(16))
        self._sandbox_url = sandbox_url  # talk to an already running sandbox (another process)
        self.extra_settings = settings
        self.providers = dict(providers or {})  # other providers' settings, by provider name
        self.emulate = set(emulate)  # other providers to run on their emulators
        self.register_webhooks = register_webhooks
        self.label_sandbox = label_sandbox
        self.webhook_id: str | None = None
        self.double: SlackDouble | None = None
        self.sandbox: BackgroundServer | None = None
        self.runtime: Runtime | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None
        self.url = ""
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> "Harness":
        self.double = SlackDouble().start()
        if self._sandbox_url is None:
            self.sandbox = start_sandbox(self.sandbox_state)
        await self.start_bot()
        return self

    @property
    def sandbox_url(self) -> str:
        return self._sandbox_url or self.sandbox.url

    def settings(self) -> Settings:
        values = dict(
            port=self.port,
            slack_bot_token=self.double.bot_token,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=self.double.api_url,
            meetops_db=self.db_path,
            meetops_admins=self.admins,
        )
        values.update({k: v for k, v in self.extra_settings.items() if not k.startswith("ds_")})
        return Settings(_env_file=None, **values)

    def provider_overrides(self) -> dict[str, dict]:
        """Digital Samba on the sandbox this harness runs (DS_* given to the harness as ds_* win), and the
        other providers' settings as given (`providers={"eyeson": {...}}`)."""
        ds = dict(team_id=self.sandbox_state.team_id, developer_key=self.sandbox_state.developer_key,
                  api_url=self.sandbox_url + "/api/v1", webhook_token=WEBHOOK_TOKEN, timeout_seconds=2.0,
                  _env_file=None)
        ds.update({k.removeprefix("ds_"): v for k, v in self.extra_settings.items() if k.startswith("ds_")})
        overrides = {name: {"_env_file": None, **values} for name, values in self.providers.items()}
        overrides["digitalsamba"] = ds
        return overrides

    async def start_bot(self) -> None:
        """Start (or, after `stop_bot`, restart) the bot on the same database, double and sandbox."""
        self.port = port = free_port()
        self.runtime = Runtime(self.settings(), clock=self.clock, sandbox=self.label_sandbox or None,
                               provider_overrides=self.provider_overrides(), emulate=set(self.emulate))
        config = uvicorn.Config(create_asgi_app(self.runtime), host="127.0.0.1", port=port, lifespan="on",
                                log_level="warning", access_log=False, backlog=2048)
        # As `meetops serve` does: jobs and crash recovery start once the port is bound.
        self._server = _BotServer(config, self.runtime)
        self._server.capture_signals = contextlib.nullcontext  # the test process keeps its signal handlers
        self._task = asyncio.create_task(self._server.serve())
        while not (self._server.started and self.runtime.is_serving):
            if self._task.done():
                self._task.result()  # raises the start-up error
                raise RuntimeError("the bot's server stopped during start-up")
            await asyncio.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        if self.register_webhooks:
            await self._register_webhook()

    async def _register_webhook(self) -> None:
        """Point the sandbox's webhooks at this bot, as `meetops webhooks register` does for real."""
        from bot.providers.digitalsamba.webhooks import EVENTS

        headers = {"Authorization": f"Bearer {self.sandbox_state.developer_key}"}
        async with httpx.AsyncClient(base_url=self.sandbox_url + "/api/v1", headers=headers, timeout=10) as api:
            if self.webhook_id:
                await api.delete(f"/webhooks/{self.webhook_id}")
            response = await api.post("/webhooks", json={
                "endpoint": f"{self.url}/webhooks/digitalsamba", "name": "meetops", "events": list(EVENTS),
                "authorization_header": WEBHOOK_TOKEN})
            response.raise_for_status()
            self.webhook_id = response.json()["id"]

    async def stop_bot(self) -> None:
        if self._server is not None:
            self._server.request_stop()
            await self._task
            self._server = self._task = None

    async def stop(self) -> None:
        await self.stop_bot()
        stop_together(server for server in (self.sandbox, self.double) if server is not None)

    async def __aenter__(self) -> "Harness":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # -- driving it ----------------------------------------------------------------

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Until no listener is still at work in the bot and the Slack double has been quiet for `quiet` s.

        The double's quiet alone is not enough: a command's follow-up starts only once its ack has
        been written (bot.acks), so right after the ack the double may not have heard from it yet.
        """
        def idle() -> bool:
            services = self.runtime.services if self.runtime else None
            return (services is None or services.listeners_running == 0) and self.double._idle_for(quiet)

        await self.double.wait_for(idle, timeout)

    @property
    def services(self) -> Services:
        return self.runtime.services

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def user(self, user_id: str = "U0001", *, channel_id: str = "C0001", channel_name: str = "general") -> SlackUser:
        return SlackUser(events_url=self.events_url, signing_secret=SIGNING_SECRET, double=self.double,
                         team_id=self.double.team_id, user_id=user_id, channel_id=channel_id,
                         channel_name=channel_name)
