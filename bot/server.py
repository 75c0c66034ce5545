"""The ASGI app served by uvicorn: Slack's one URL, a health check and the provider's webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.acks import ACK_QUEUE, ACK_WRITTEN, AckQueue
from bot.edge import SlackEdge
from bot.runtime import Runtime
from commands.recordings import serve_download
from commands.webhooks import handle_webhook

log = logging.getLogger(__name__)


def create_asgi_app(runtime: Runtime, *, serve_slack: bool = True) -> Starlette:
    """`serve_slack=False` in Socket Mode: Slack arrives over the socket, webhooks still over HTTP."""
    edge: SlackEdge | None = None
    acks = AckQueue()

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        nonlocal edge
        app = runtime.app or await runtime.start()
        secret = runtime.settings.slack_signing_secret
        # Size, signature and replay are checked before Bolt sees a request (bot.edge).
        edge = SlackEdge(app, secret.get_secret_value() if secret else None)
        try:
            yield
        finally:
            await runtime.stop()

    async def slack_events(request: Request):
        return await _answer_then_work(edge, acks, request)

    async def healthz(_request: Request):
        services = runtime.services
        ok = services is not None
        return JSONResponse({"ok": ok, "sandbox": bool(services and services.sandbox)}, status_code=200 if ok else 503)

    async def provider_webhook(request: Request):
        if runtime.services is None:
            return JSONResponse({"ok": False, "error": "starting"}, status_code=503)
        return await handle_webhook(runtime.services, request.path_params["provider"], request)

    async def download(request: Request):
        if runtime.services is None:
            return JSONResponse({"ok": False, "error": "starting"}, status_code=503)
        return await serve_download(runtime.services, request)

    routes = [Route("/healthz", healthz, methods=["GET"]),
              # Recordings meetops serves itself: signed, expiring links (commands.recordings).
              Route("/downloads/{token}", download, methods=["GET"]),
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


async def _answer_then_work(handler: SlackEdge, acks: AckQueue, request: Request):
    """Bolt's answer, with listeners told (bot.acks) once it has been written, however that ends."""
    written = asyncio.Event()
    acks.received()
    try:
        response = await handler.handle(request, {ACK_WRITTEN: written, ACK_QUEUE: acks})
    except BaseException:
        written.set()
        acks.answered()
        raise

    async def send_then_mark(scope, receive, send) -> None:
        try:
            await response(scope, receive, send)
        finally:
            written.set()
            acks.answered()

    return send_then_mark
