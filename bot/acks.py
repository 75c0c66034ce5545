"""Follow-up work starts once the acks have left: a burst's provider calls never delay other acks.

Bolt (process_before_response=False) answers Slack as soon as a listener calls `ack()`, but the
listener goes on running in the same event loop: with 200 commands at once, all 200 provider calls
and Slack posts would start before the last ack is written, and compete with it. Over HTTP,
`bot.server` puts in each request's context an event set once that request's answer has been
written, and the `AckQueue` of every request received and not yet answered. A listener awaits
`ack_written(context)` after `ack()`: it returns once its own ack has left and no other request is
waiting for its ack (for at most a second: steady traffic must not starve the work). Socket Mode
and anything else without these go on at once.
"""

from __future__ import annotations

import asyncio
from typing import Mapping

ACK_WRITTEN = "ack_written"  # context keys bot.server fills for HTTP requests
ACK_QUEUE = "ack_queue"
# Slack stops waiting for an ack after 3 s: past that there is nothing left to protect.
MAX_OWN_WAIT_SECONDS = 3.0
# How long follow-up work gives way to other requests' acks.
MAX_YIELD_SECONDS = 1.0


class AckQueue:
    """The HTTP requests received and not answered yet."""

    def __init__(self) -> None:
        self.pending = 0
        self._empty = asyncio.Event()
        self._empty.set()

    def received(self) -> None:
        self.pending += 1
        self._empty.clear()

    def answered(self) -> None:
        self.pending -= 1
        if self.pending <= 0:
            self.pending = 0
            self._empty.set()

    async def wait_empty(self, timeout: float) -> None:
        if self._empty.is_set():
            return
        try:
            await asyncio.wait_for(self._empty.wait(), timeout)
        except TimeoutError:
            pass  # steady traffic: the work goes on anyway


async def ack_written(context: Mapping) -> None:
    """Return once this request's ack has been written and no other ack is waiting (at once outside HTTP)."""
    written: asyncio.Event | None = context.get(ACK_WRITTEN)
    if written is not None and not written.is_set():
        try:
            await asyncio.wait_for(written.wait(), MAX_OWN_WAIT_SECONDS)
        except TimeoutError:
            pass  # the connection went away before the answer was written; the work is still owed
    queue: AckQueue | None = context.get(ACK_QUEUE)
    if queue is not None:
        await queue.wait_empty(MAX_YIELD_SECONDS)
