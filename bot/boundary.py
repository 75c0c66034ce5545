"""The error boundary: every failure becomes a reply to the person who acted.

Bolt's `@app.error` is not enough on its own: when a listener raises within
~10 ms of calling `ack()`, Bolt's asyncio runner forgets the ack and holds the
HTTP response for its full 3-second timeout. So every listener a feature
registers runs inside `guarded`, which catches the error itself and replies;
`@app.error` remains for what fails outside a listener (middleware).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
from typing import Any, Awaitable, Callable

from slack_bolt.async_app import AsyncApp

from bot import safejson
from bot.errors import MeetopsError, ProviderAuthError, ProviderNotFound, ProviderUnavailable
from bot.meetings import explain_not_found
from bot.messaging import send_private
from bot.services import Services
from bot.slack_auth import is_slack_unreachable

log = logging.getLogger(__name__)


async def reply_with_error(services: Services, error: Exception, body: Any, respond) -> None:
    """Tell the person what went wrong and what to do; log what the person can't act on.

    Never raises, whatever shape `body` has: it may be what a failed request carried."""
    link = services.slack_link
    if link is not None and is_slack_unreachable(error):
        # Slack itself is out of reach: logged once per outage (bot.slack_auth), not per request, and
        # no reply is tried, since it would go through Slack too.
        link.failed(error)
        return
    if isinstance(error, MeetopsError):
        text = f":warning: {error.user_message}"
        # What an admin must fix (the provider's credentials) or watch (its outages) is logged above INFO.
        level = (logging.ERROR if isinstance(error, ProviderAuthError)
                 else logging.WARNING if isinstance(error, ProviderUnavailable) else logging.INFO)
        log.log(level, "refused %s: %s", type(error).__name__, error.user_message)
    else:
        ref = secrets.token_hex(3)
        log.error("unhandled error (ref %s)", ref, exc_info=error)
        text = (f":boom: Something went wrong on my side (reference `{ref}`). Please try again; "
                "if it keeps happening, give your admin that reference.")
    user_id = _text(body, "user_id") or _text(body, "user", "id")
    if not user_id:
        log.info("no one to tell about this error: the request names no user")
        return
    channel_id = _text(body, "channel_id") or _text(body, "channel", "id") or _channel_from_view(body)
    try:
        await send_private(services, user_id=user_id, channel_id=channel_id, text=text, respond=respond)
    except Exception as exc:
        if link is not None and is_slack_unreachable(exc):
            link.failed(exc)
        else:
            log.exception("could not tell %s about an error", user_id)


def _text(body: Any, *path: str) -> str | None:
    """body[path[0]][path[1]]... if every step is a dict and the end is a non-empty string, else None."""
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body if isinstance(body, str) and body else None


def _channel_from_view(body: Any) -> str | None:
    """Modal submissions carry no channel; every modal's private_metadata is JSON with a `channel`."""
    metadata = _text(body, "view", "private_metadata")
    if metadata is None:
        return None
    try:
        return _text(safejson.loads(metadata, max_depth=4), "channel")
    except ValueError:
        return None


def guarded(listener: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[None]]:
    """Run a listener so that no exception escapes into Bolt; the person gets a reply instead."""
    wanted = inspect.getfullargspec(listener).args

    async def run(args) -> None:  # Bolt injects its AsyncArgs for a parameter named `args`
        services = args.context["services"]
        services.listeners_running += 1  # work goes on after the ack: the dev harness waits for it
        # Bolt runs a click's or a form's listener in a task of its own: counted with the work a stop lets
        # finish (its grace period), else a deploy cut a Go live mid-call and told the person "not answering".
        task = asyncio.current_task()
        tracked = task is not None and task not in services.background
        if tracked:
            services.background.add(task)
        try:
            await listener(**{name: _arg(args, name) for name in wanted})
        except Exception as error:
            if args.ack.response is None:
                await args.ack()  # failed before acknowledging: Slack still needs its answer in time
            if isinstance(error, ProviderNotFound):
                error = await _explained(services, error)
            await reply_with_error(services, error, args.body or {}, args.respond)
        finally:
            services.listeners_running -= 1
            if tracked:
                services.background.discard(task)

    run.__name__ = run.__qualname__ = listener.__name__
    return run


async def _explained(services: Services, error: ProviderNotFound) -> Exception:
    """A 404 no command caught: said as the room being gone when that is what it means (bot.meetings)."""
    try:
        return await explain_not_found(services, error)
    except Exception:
        log.exception("could not check whether a 404 meant the room is gone")
        return error


def _arg(args, name: str):
    value = getattr(args, name, None)
    return value if value is not None or name not in args.context else args.context[name]


class GuardedApp:
    """The app as features see it: `command`, `action`, `view` and `options` register guarded listeners."""

    def __init__(self, app: AsyncApp):
        self._app = app
        self.registered: list[tuple[str, object]] = []  # (kind, matcher): what the manifest must cover

    def __getattr__(self, name: str):
        return getattr(self._app, name)

    def _registrar(self, register):
        def with_matcher(*args, **kwargs):
            self.registered.append((register.__name__, args[0] if args else kwargs))
            decorate = register(*args, **kwargs)

            def decorator(listener):
                decorate(guarded(listener))
                return listener  # the plain function stays importable and testable

            return decorator

        return with_matcher

    def command(self, *args, **kwargs):
        return self._registrar(self._app.command)(*args, **kwargs)

    def action(self, *args, **kwargs):
        return self._registrar(self._app.action)(*args, **kwargs)

    def view(self, *args, **kwargs):
        return self._registrar(self._app.view)(*args, **kwargs)

    def options(self, *args, **kwargs):
        return self._registrar(self._app.options)(*args, **kwargs)
