"""Follow-up work starts once the ack has left: a burst's provider calls never delay its own acks.

Bolt (process_before_response=False) answers Slack as soon as a listener calls `ack()`, but the listener
goes on running in the same event loop: with 200 commands at once, all 200 provider calls would start
before the last ack is written and compete with it. Over HTTP, `bot.server` puts in each request's context
an event set once that request's answer has been written, and a listener awaits `ack_written(context)`
after `ack()`. Slash commands go further: the edge answers them itself before Bolt runs them
(`bot.edge.AnsweredFirst`), so their event is set before their listener starts. Socket Mode and anything
else without the event go on at once.

A burst of answered commands then starts its work a few per event-loop turn (`FollowUps`), not all at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Callable, Coroutine, Mapping

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


# 200 commands at once (benchmarks/ack_latency.py) are answered in a few event-loop turns. Started together,
# their follow-ups then move in lock-step, one loop turn per step and each turn 200 commands long: every
# command's checks and database writes, then every provider connection, before a single provider request
# leaves. The process then sits idle through the provider's whole latency (about 300 ms of a 1.6 s burst).
# Started a few per turn, the first rooms' provider calls leave within a few short turns and their answers
# come back while the rest of the burst is still being started. Measured (fresh processes, alternating, last
# room message over the lean floor, medians): all at once 1.46; 5 per turn 1.39; 10: 1.32; 15: 1.39; 20: 1.46.
FOLLOW_UPS_PER_TURN = 10


class FollowUps:
    """Starts follow-up work in the order it came, at most `per_turn` per event-loop turn (see above).

    `spawn` starts one coroutine as a task the runtime keeps track of (`Services.spawn`)."""

    def __init__(self, spawn: Callable[..., asyncio.Task], per_turn: int = FOLLOW_UPS_PER_TURN):
        self._spawn = spawn
        self.per_turn = per_turn
        self._waiting: deque[tuple[Coroutine[Any, Any, Any], str]] = deque()
        self._starter: asyncio.Task | None = None

    def __len__(self) -> int:
        """How many are waiting to start."""
        return len(self._waiting)

    def start(self, coro: Coroutine[Any, Any, Any], *, name: str) -> None:
        self._waiting.append((coro, name))
        if self._starter is None:
            self._starter = asyncio.get_running_loop().create_task(self._start_waiting(), name="follow-up starter")

    def start_all(self) -> None:
        """Start whatever is waiting now (the runtime stopping: its grace period then covers these too)."""
        while self._waiting:
            coro, name = self._waiting.popleft()
            self._spawn(coro, name=name)

    async def _start_waiting(self) -> None:
        try:
            while self._waiting:
                for _ in range(min(self.per_turn, len(self._waiting))):
                    coro, name = self._waiting.popleft()
                    self._spawn(coro, name=name)
                await asyncio.sleep(0)  # one loop turn: what was started runs its first step
        finally:
            self._starter = None
