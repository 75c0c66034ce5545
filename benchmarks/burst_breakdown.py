"""Where the CPU of a 200-command burst goes: meetops beside the bare Bolt app and the lean floor.

A diagnostic for benchmarks/ack_latency.py. It makes one run exactly as that benchmark does (meetops
cold, then the two floors in the same process) and splits the CPU of each by what it was spent on.
Measuring costs time of its own, so its totals run a little above that benchmark's; compare the rows
of one run with each other, and take the targets' figures from ack_latency.py.

Rows, in CPU milliseconds of this process (the load and the sandbox are other processes):

- **requests in**: uvicorn's request cycle of each Slack request (Starlette, bot.edge's checks and
  meetops' empty 200; for the bare app, all of Bolt and its ack);
- **Bolt's dispatch**: Bolt's run of each command meetops had already answered (bot.server);
- **each command's work**: the listener (meetops) or the plain client's coroutine (lean floor), and
  inside it the provider call, the Slack post and the SQLite statements;
- **event loop, outside tasks**: socket callbacks (HTTP parsing, connections) and the loop's own turns;
- **other threads**: the Slack double, which runs on a thread of this process (Slack's servers in
  production).

    python benchmarks/burst_breakdown.py [--commands 200] [--latency-ms 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import sys
import time
import types
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot import meetings

sys.path.insert(0, str(Path(__file__).parent))
import ack_latency  # noqa: E402  (the benchmark beside this file: same run, same floors)

REQUESTS_IN = "requests in (uvicorn, Starlette, edge or Bolt)"
DISPATCH = "Bolt's dispatch of an answered command"
WORK = "each command's work"
PROVIDER = "  of which the provider call (create the room)"
BLOCKS = "  of which building the room message"
POST = "  of which the Slack post (the room message)"
SQL = "  of which SQLite"
LOOP = "event loop, outside tasks"
GC = "the garbage collector (within the rows above)"
OTHER = "other threads (the Slack double)"
TOTAL = "all of this process"
ROWS = [REQUESTS_IN, DISPATCH, WORK, PROVIDER, BLOCKS, POST, SQL, LOOP, OTHER, TOTAL, GC]

# The coroutine a task starts with, by its qualified name: what that task is for.
TASKS = {
    "RequestResponseCycle.run_asgi": REQUESTS_IN,
    "_run_owed": DISPATCH,
    "AsyncioListenerRunner.run.<locals>.run_ack_function_asynchronously": WORK,
    "measure_lean.<locals>.one": WORK,
}


@types.coroutine
def _timed(coro, row: str, cpu: Counter):
    """Drive `coro` as a task would, adding the CPU of each of its steps (this thread's) to cpu[row]."""
    value, error = None, None
    while True:
        started = time.thread_time()
        try:
            yielded = coro.throw(error) if error is not None else coro.send(value)
        except StopIteration as stop:
            cpu[row] += time.thread_time() - started
            return stop.value
        except BaseException:
            cpu[row] += time.thread_time() - started
            raise
        cpu[row] += time.thread_time() - started
        try:
            value, error = (yield yielded), None
        except BaseException as thrown:  # a cancellation, or an exception set on what it awaited
            value, error = None, thrown


class _TimedConnection:
    """A sqlite3 connection whose statements are timed (CPU of this thread, and wall time: SQLite hands
    the GIL to other threads while it runs, and getting it back is waited for)."""

    def __init__(self, conn, tally: "Tally"):
        self._conn, self._tally = conn, tally

    def execute(self, *args):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return self._conn.execute(*args)
        finally:
            self._tally.cpu[SQL] += time.thread_time() - cpu
            self._tally.sql_wall += time.perf_counter() - wall
            self._tally.statements += 1

    def __getattr__(self, name):
        return getattr(self._conn, name)


@dataclass
class Tally:
    cpu: Counter = field(default_factory=Counter)
    statements: int = 0
    sql_wall: float = 0.0


def _patched(owner, name: str, wrap: Callable) -> contextlib.AbstractContextManager:
    @contextlib.contextmanager
    def patch():
        original = owner.__dict__[name]
        setattr(owner, name, wrap(original))
        try:
            yield
        finally:
            setattr(owner, name, original)
    return patch()


def _timing_sync(row: str, cpu: Counter) -> Callable:
    def wrap(function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                cpu[row] += time.thread_time() - started
        return timed
    return wrap


def _timing(row: str, cpu: Counter) -> Callable:
    """Wrap an async method so the CPU of its own steps counts to `row`."""
    def wrap(method):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            return _timed(method(*args, **kwargs), row, cpu)
        return timed
    return wrap


class Breakdown:
    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = {}
        self.provider_class: type | None = None

    @contextlib.asynccontextmanager
    async def measuring(self, floor: str, harness):
        tally = self.tallies[floor] = Tally()
        loop = asyncio.get_running_loop()

        def factory(loop, coro, **kwargs):
            row = TASKS.get(getattr(coro, "__qualname__", ""))
            return asyncio.Task(_timed(coro, row, tally.cpu) if row else coro, loop=loop, **kwargs)

        services = harness.runtime.services if harness.runtime else None  # None once meetops has stopped
        db = services.db if services else None
        if services:  # the lean floor builds a client of its own, of the same class
            self.provider_class = type(services.providers.get("digitalsamba"))
        with contextlib.ExitStack() as patches:
            patches.enter_context(_patched(self.provider_class, "create_room", _timing(PROVIDER, tally.cpu)))
            patches.enter_context(_patched(AsyncWebClient, "chat_postMessage", _timing(POST, tally.cpu)))
            for builder_user in (meetings, ack_latency):  # where meetops, and the lean floor, call the builder
                patches.enter_context(_patched(builder_user, "room_message_blocks", _timing_sync(BLOCKS, tally.cpu)))
            if db is not None:
                db.conn = _TimedConnection(db.conn, tally)
            collecting = []

            def collector(phase: str, info: dict) -> None:
                if phase == "start":
                    collecting.append(time.thread_time())
                elif collecting:
                    tally.cpu[GC] += time.thread_time() - collecting.pop()

            gc.callbacks.append(collector)
            loop.set_task_factory(factory)
            thread, process = time.thread_time(), time.process_time()
            try:
                yield
            finally:
                loop.set_task_factory(None)
                gc.callbacks.remove(collector)
                tally.cpu[TOTAL] = time.process_time() - process
                on_loop = time.thread_time() - thread
                tally.cpu[OTHER] = tally.cpu[TOTAL] - on_loop
                tally.cpu[LOOP] = on_loop - sum(tally.cpu[row] for row in set(TASKS.values()))
                if db is not None:
                    db.conn = db.conn._conn


def report(breakdown: Breakdown, figures: dict) -> None:
    floors = [("meetops", "meetops"), ("bare", "bare Bolt"), ("lean", "lean floor")]
    print(f"{'CPU, ms':<48}" + "".join(f"{title:>12}" for _, title in floors))
    for row in ROWS:
        cells = []
        for floor, _ in floors:
            value = breakdown.tallies[floor].cpu.get(row)
            cells.append(f"{value * 1000:12.0f}" if value else f"{'-':>12}")
        print(f"{row:<48}" + "".join(cells))
    beyond = {name: breakdown.tallies[name].cpu[TOTAL] * 1000 for name, _ in floors}
    print(f"\nmeetops' CPU beyond the two floors together: {beyond['meetops'] - beyond['bare'] - beyond['lean']:.0f} ms")
    meetops = breakdown.tallies["meetops"]
    print(f"SQLite during meetops' burst: {meetops.statements} statements, "
          f"{meetops.cpu[SQL] * 1000:.0f} ms of CPU, {meetops.sql_wall * 1000:.0f} ms on the clock "
          "(the rest waiting for the GIL, held by the other threads meanwhile)")
    print(f"last room message: meetops {figures['meetops_last_message']:.0f} ms, lean floor "
          f"{figures['lean_last_message']:.0f} ms ({figures['last_message_ratio']:.2f}x); bare Bolt ack p99 "
          f"{figures['bare_ack_p99']:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=300)
    args = parser.parse_args()
    breakdown = Breakdown()
    figures = asyncio.run(ack_latency.run(args.commands, args.latency_ms, instrument=breakdown.measuring))
    report(breakdown, figures)


if __name__ == "__main__":
    main()
