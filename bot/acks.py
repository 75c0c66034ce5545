"""Follow-up work starts once the ack has left: a burst's provider calls never delay the other acks.

Bolt (process_before_response=False) answers Slack as soon as a listener calls `ack()`, but the
listener goes on running in the same event loop: with 200 commands at once, all 200 provider calls
and Slack posts would start before the last ack is written. Over HTTP, `bot.server` puts an event in
each request's context and sets it once the response body has been sent; a listener awaits
`ack_written(context)` after `ack()`. Socket Mode and anything else without the event go on at once.
"""

from __future__ import annotations

import asyncio
from typing import Mapping

ACK_WRITTEN = "ack_written"  # the context key bot.server fills for HTTP requests
# Slack stops waiting for an ack after 3 s: past that there is nothing left to protect.
MAX_WAIT_SECONDS = 3.0


async def ack_written(context: Mapping) -> None:
    """Return once this request's ack has been written to the HTTP connection (at once outside HTTP)."""
    written: asyncio.Event | None = context.get(ACK_WRITTEN)
    if written is None or written.is_set():
        return
    try:
        await asyncio.wait_for(written.wait(), MAX_WAIT_SECONDS)
    except TimeoutError:
        pass  # the connection went away before the answer was written; the work is still owed
