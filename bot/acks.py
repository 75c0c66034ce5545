"""Follow-up work starts once the ack has left: a burst's provider calls never delay its own acks.

Bolt (process_before_response=False) answers Slack as soon as a listener calls `ack()`, but the listener
goes on running in the same event loop: with 200 commands at once, all 200 provider calls would start
before the last ack is written and compete with it. Over HTTP, `bot.server` puts in each request's context
an event set once that request's answer has been written, and a listener awaits `ack_written(context)`
after `ack()`. Slash commands go further: the edge answers them itself before Bolt runs them
(`bot.edge.AnsweredFirst`), so their event is set before their listener starts. Socket Mode and anything
else without the event go on at once.
"""

from __future__ import annotations

import asyncio
from typing import Mapping

ACK_WRITTEN = "ack_written"  # the context key bot.server fills for HTTP requests
# Slack stops waiting for an ack after 3 s: past that there is nothing left to protect.
MAX_OWN_WAIT_SECONDS = 3.0


async def ack_written(context: Mapping) -> None:
    """Return once this request's ack has been written (at once outside HTTP)."""
    written: asyncio.Event | None = context.get(ACK_WRITTEN)
    if written is not None and not written.is_set():
        try:
            await asyncio.wait_for(written.wait(), MAX_OWN_WAIT_SECONDS)
        except TimeoutError:
            pass  # the connection went away before the answer was written; the work is still owed
