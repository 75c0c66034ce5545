"""The sandbox as one Starlette app: the API, the control endpoints, the public pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import api, control, public
from .state import SandboxState
from .webhooks import WebhookDispatcher


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths and wrong methods answer in the API's JSON error shape too.
    assert isinstance(exc, HTTPException)
    return JSONResponse({"message": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def create_sandbox_app(state: SandboxState) -> Starlette:
    dispatcher = WebhookDispatcher(state)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()

    app = Starlette(
        routes=[*api.routes, *control.routes, *public.routes],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.sandbox = state
    return app
