"""Builds the Bolt app: services into the context, every feature registered, one error boundary."""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

import commands
from bot.boundary import GuardedApp, reply_with_error
from bot.payloads import ValidatePayloads
from bot.services import Services

log = logging.getLogger(__name__)


class ProvideServices(AsyncMiddleware):
    """Handlers declare what they need by name (`services`, `db`); each acts through its room's provider.

    A class, not an `@app.middleware` function: Bolt builds a function middleware's arguments on every
    request (in benchmarks/ack_latency.py about a third of the time Bolt spends on arguments)."""

    def __init__(self, services: Services):
        self.services = services

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        req.context["services"] = self.services
        req.context["db"] = self.services.db
        return await next()


def build_app(services: Services, *, authorize: Callable[..., Awaitable[AuthorizeResult]] | None = None) -> AsyncApp:
    """`authorize`: Bolt's authorization hook (bot.slack_auth); without it Bolt calls auth.test per request
    until it has one answer."""
    settings = services.settings
    app = AsyncApp(
        client=services.slack,
        authorize=authorize,
        signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None,
        # Socket Mode requests arrive over an authenticated socket and carry no signature.
        request_verification_enabled=settings.slack_signing_secret is not None,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("meetops.bolt"),
    )

    app.use(ValidatePayloads())  # payloads checked against bot.payloads' models (Socket Mode too)
    app.use(ProvideServices(services))

    commands.register(GuardedApp(app))

    @app.error
    async def error_boundary(error, body, respond) -> None:
        # Listeners are guarded (bot.boundary); this catches what fails around them.
        await reply_with_error(services, error, body or {}, respond)

    return app
