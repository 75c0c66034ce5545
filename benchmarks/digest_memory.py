"""Peak memory of one digest over 1,000 vs 10,000 sessions: it should stay flat.

Runs the real app against the in-process sandbox (sessions made in bulk beforehand) and
measures, with tracemalloc, only the digest itself: `post_digest` streaming the sessions
page by page (100 per page) and posting messages as they fill. Slack is a stub that drops
each message, so what is measured is what the bot holds, not what a Slack double would keep.

    .venv/bin/python benchmarks/digest_memory.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import httpx

from bot.devtools.harness import Harness
from commands.digest import post_digest
from storage import rooms


class DroppingSlack:
    """Counts the digest's messages and forgets them."""

    def __init__(self) -> None:
        self.messages = 0

    async def chat_postMessage(self, **kwargs) -> dict:
        self.messages += 1
        return {"channel": kwargs["channel"], "ts": f"1700000000.{self.messages:06d}"}


async def measure(count: int) -> tuple[int, int, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        async with Harness(db_path=str(Path(tmp) / "bench.db")) as harness:
            async with harness.user() as ada:
                await ada.acommand("new standup")
                room = await harness.double.wait_for(lambda: rooms.find(harness.services.db, "T0001", "standup"))
            services = harness.services
            now = services.clock()
            start = now - timedelta(minutes=count + 1)
            async with httpx.AsyncClient(base_url=harness.sandbox_url, timeout=60) as sandbox:
                (await sandbox.post("/_sandbox/sessions", json={
                    "room": room.id, "start_time": start.isoformat(), "duration_minutes": 1,
                    "interval_minutes": 1, "participants": 3, "count": count})).raise_for_status()
            services.slack = DroppingSlack()
            tracemalloc.start()
            began = time.perf_counter()
            listed = await post_digest(services, team_id="T0001", channel_id="C0001", since=start - timedelta(minutes=1),
                                       until=now, tz="UTC")
            elapsed = time.perf_counter() - began
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert listed == count, (listed, count)
            return listed, peak, elapsed, services.slack.messages


async def main() -> None:
    print(f"{'sessions':>9} {'peak KiB':>9} {'seconds':>8} {'messages':>9}")
    for count in (1_000, 10_000):
        listed, peak, elapsed, messages = await measure(count)
        print(f"{listed:>9,} {peak / 1024:>9,.0f} {elapsed:>8.2f} {messages:>9}")


if __name__ == "__main__":
    asyncio.run(main())
