"""Fixtures for tests that drive time: a fake clock and the real app using it, with the sandbox's webhooks
pointed at the bot. Import them into a test module to use them (they replace conftest's `harness`)."""

from __future__ import annotations

import secrets
import uuid

import pytest

from bot.devtools.harness import Harness
from bot.devtools.timing import FakeClock
from bot.sandbox import SandboxState
from storage import rooms
from tests.conftest import ADMIN


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def harness(tmp_path, clock):
    # The sandbox shares the fake clock: sessions start and end on the bot's timeline.
    world = SandboxState(team_id=str(uuid.uuid4()), developer_key="test-dev-key-" + secrets.token_hex(16), now=clock)
    async with Harness(db_path=str(tmp_path / "meetops.db"), admins=ADMIN, clock=clock, sandbox_state=world,
                       register_webhooks=True) as h:
        yield h


async def new_room(harness, user, name: str = "standup", channel: str = "C0001"):
    """`/meet new <name>` and wait until its message is posted and remembered."""
    await user.acommand(f"new {name}")
    return await harness.double.wait_for(
        lambda: (r := rooms.find(harness.services.db, harness.double.team_id, name)) and r.message_ts and r)


async def meeting(harness, sandbox, room, *people: str) -> str:
    """People join, the meeting ends; returns its session id once the bot has seen it end."""
    for person in people or ("Grace",):
        (await sandbox.post(f"/_sandbox/rooms/{room.id}/join", json={"name": person})).raise_for_status()
    (await sandbox.post(f"/_sandbox/rooms/{room.id}/end", json={})).raise_for_status()
    ended = await harness.double.wait_for(
        lambda: (r := rooms.get(harness.services.db, room.id)) and r.status == "ended" and r)
    return ended.session_id


def thread_replies(harness, room) -> list:
    return [m for m in harness.double.thread(room.message_channel, room.message_ts) if m.ts != room.message_ts]


def summary_requests(harness, session_id: str) -> list:
    return harness.sandbox_state.requests_matching("GET", f"/sessions/{session_id}/summary")
