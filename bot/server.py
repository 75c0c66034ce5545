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

from bot.acks import ACK_WRITTEN
from bot.boundary import reply_with_error
from bot.edge import AnsweredFirst, SlackEdge
from bot.runtime import Runtime
from bot.services import Services
from commands.meet import COMMAND
from commands.recordings import serve_download
from commands.webhooks import handle_webhook

log = logging.getLogger(__name__)


def create_asgi_app(runtime: Runtime, *, serve_slack: bool = True) -> Starlette:
    """`serve_slack=False` in Socket Mode: Slack arrives over the socket, webhooks still over HTTP."""
    edge: SlackEdge | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        nonlocal edge
        app = runtime.app or await runtime.start()
        secret = runtime.settings.slack_signing_secret
        # Size, signature and replay are checked before Bolt sees a request (bot.edge).
        edge = SlackEdge(app, secret.get_secret_value() if secret else None, answer_first=frozenset({COMMAND}))
        try:
            yield
        finally:
            await runtime.stop()

    async def slack_events(request: Request):
        return await _answer_then_work(edge, request, runtime)

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


async def _answer_then_work(handler: SlackEdge, request: Request, runtime: Runtime):
    """Bolt's answer, with listeners told (bot.acks) once it has been written, however that ends. A command
    the edge answered itself (`AnsweredFirst`) is run by Bolt only once that answer has been written."""
    written = asyncio.Event()
    try:
        response = await handler.handle(request, {ACK_WRITTEN: written})
    except BaseException:
        written.set()
        raise
    services = runtime.services
    deferred = isinstance(response, AnsweredFirst)
    if deferred:
        if services is None:  # stopping: nothing would run it, so Slack must not hear it was taken
            written.set()
            return JSONResponse({"ok": False, "error": "stopping"}, status_code=503)
        services.listeners_running += 1  # owed from now: the dev harness waits for it

    async def send_then_mark(scope, receive, send) -> None:
        try:
            await response(scope, receive, send)
        finally:
            written.set()
            if deferred:
                services.follow_ups.start(_run_owed(services, response), name="slash command")

    return send_then_mark


async def _run_owed(services: Services, response: AnsweredFirst) -> None:
    """Bolt's run of a command already answered. Its listeners reply to their own failures (bot.boundary);
    whatever fails around them is answered here, since Slack has had its 200 already."""
    try:
        await response.dispatch()
    except Exception as error:
        await reply_with_error(services, error, response.command, None)
    finally:
        services.listeners_running -= 1
