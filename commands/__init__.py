"""Every feature module, registered on the app. One module per feature, each with `register(app, router)`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from commands import (
    delete, digest, invite, join, kick, meet, polls, presence, recording, recordings, restream, rooms, schedule,
    slack_polls, snapshot, summaries, webhooks,
)
from commands.router import Router

FEATURES = (rooms, join, invite, kick, polls, slack_polls, restream, recording, snapshot, summaries, webhooks, digest,
            presence, delete, recordings, schedule, meet)


def register(app: AsyncApp) -> Router:
    router = Router()
    # Bolt tries listeners in the order they were registered and nearly every request is a `/meet`:
    # registered last, each command would first be matched against every button and form listener.
    meet.register_command(app, router)
    for feature in FEATURES:
        feature.register(app, router)
    return router


async def start(services) -> None:
    """Let features re-arm what they keep in the database (scheduled jobs) when the app starts."""
    for feature in FEATURES:
        on_start = getattr(feature, "on_start", None)
        if on_start is not None:
            await on_start(services)


async def serving(services) -> None:
    """The process is serving: let features start what must not run in a process that failed to start
    (finishing work a crash interrupted). Each runs as a background job, never delaying a request."""
    for feature in FEATURES:
        on_serving = getattr(feature, "on_serving", None)
        if on_serving is not None:
            await on_serving(services)
