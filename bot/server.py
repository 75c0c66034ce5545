"""The ASGI app served by uvicorn: Slack's one URL, a health check and the provider's webhooks."""

from __future__ import annotations

import contextlib
import logging

import uvicorn

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.runtime import Runtime
from commands.webhooks import handle_webhook

log = logging.getLogger(__name__)


def create_asgi_app(runtime: Runtime, *, serve_slack: bool = True) -> Starlette:
    """`serve_slack=False` in Socket Mode: Slack arrives over the socket, webhooks still over HTTP."""
    handler: AsyncSlackRequestHandler | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        nonlocal handler
        app = runtime.app or await runtime.start()
        handler = AsyncSlackRequestHandler(app)
        try:
            yield
        finally:
            await runtime.stop()

    async def slack_events(request: Request):
        return await handler.handle(request)

    async def healthz(_request: Request):
        services = runtime.services
        ok = services is not None
        return JSONResponse({"ok": ok, "sandbox": bool(services and services.sandbox)}, status_code=200 if ok else 503)

    async def provider_webhook(request: Request):
        if runtime.services is None:
            return JSONResponse({"ok": False, "error": "starting"}, status_code=503)
        return await handle_webhook(runtime.services, request.path_params["provider"], request)

    routes = [Route("/healthz", healthz, methods=["GET"]),
              # /webhooks/digitalsamba, /webhooks/eyeson, …: each verified its provider's way.
              Route("/webhooks/{provider}", provider_webhook, methods=["POST"])]
    if serve_slack:
        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    return Starlette(routes=routes, lifespan=lifespan)


class ServingServer(uvicorn.Server):
    """uvicorn that tells the runtime once its port is bound, and not before.

    The ASGI lifespan (which builds the runtime) runs before uvicorn binds the port; a port already in use
    then ends the process. Scheduled jobs and crash recovery must not run in such a process (the process
    already serving would do the same work again), so they start here, after the bind.
    """

    def __init__(self, config: uvicorn.Config, runtime: Runtime, *, where: str = ""):
        super().__init__(config)
        self.runtime = runtime
        self.where = where or f"HTTP on http://{config.host}:{config.port}"

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            await self.runtime.serving(self.where)
