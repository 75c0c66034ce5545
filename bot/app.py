"""Builds the Bolt app: services into the context, every feature registered, one error boundary."""

from __future__ import annotations

import json
import logging
import secrets

from slack_bolt.async_app import AsyncApp

import commands
from bot.errors import MeetopsError
from bot.messaging import send_private
from bot.services import Services

log = logging.getLogger(__name__)


def build_app(services: Services) -> AsyncApp:
    settings = services.settings
    app = AsyncApp(
        client=services.slack,
        signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None,
        # Socket Mode requests arrive over an authenticated socket and carry no signature.
        request_verification_enabled=settings.slack_signing_secret is not None,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("meetops.bolt"),
    )

    @app.middleware
    async def provide_services(context, next) -> None:
        # Handlers declare what they need by name (`services`, `meetings`, `db`).
        context["services"] = services
        context["meetings"] = services.meetings
        context["db"] = services.db
        await next()

    commands.register(app)

    @app.error
    async def error_boundary(error, body, respond, logger) -> None:
        await reply_with_error(services, error, body or {}, respond)

    return app


async def reply_with_error(services: Services, error: Exception, body: dict, respond) -> None:
    """Tell the person what went wrong and what to do; log what the person can't act on."""
    if isinstance(error, MeetopsError):
        text = f":warning: {error.user_message}"
        log.info("refused %s: %s", type(error).__name__, error.user_message)
    else:
        ref = secrets.token_hex(3)
        log.error("unhandled error (ref %s)", ref, exc_info=error)
        text = (f":boom: Something went wrong on my side (reference `{ref}`). Please try again; "
                "if it keeps happening, give your admin that reference.")
    user_id = body.get("user_id") or (body.get("user") or {}).get("id")
    if not user_id:
        return
    channel_id = body.get("channel_id") or (body.get("channel") or {}).get("id") or _channel_from_view(body)
    try:
        await send_private(services, user_id=user_id, channel_id=channel_id, text=text, respond=respond)
    except Exception:
        log.exception("could not tell %s about an error", user_id)


def _channel_from_view(body: dict) -> str | None:
    """Modal submissions carry no channel; every modal's private_metadata is JSON with a `channel`."""
    try:
        return json.loads((body.get("view") or {}).get("private_metadata") or "{}").get("channel")
    except (ValueError, AttributeError):
        return None
