"""Builds the Bolt app: services into the context, every feature registered, one error boundary."""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

import commands
from bot.boundary import GuardedApp, reply_with_error
from bot.payloads import ValidatePayloads
from bot.services import Services

log = logging.getLogger(__name__)


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

    @app.middleware
    async def provide_services(context, next) -> None:
        # Handlers declare what they need by name (`services`, `db`); each acts through its room's provider.
        context["services"] = services
        context["db"] = services.db
        await next()

    commands.register(GuardedApp(app))

    @app.error
    async def error_boundary(error, body, respond) -> None:
        # Listeners are guarded (bot.boundary); this catches what fails around them.
        await reply_with_error(services, error, body or {}, respond)

    return app
