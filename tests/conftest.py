"""Fixtures: the real app over HTTP, the sandbox and the Slack double, fresh for each test."""

from __future__ import annotations

import httpx
import pytest

from bot.devtools.harness import Harness

ADMIN = "U0003"  # linus


@pytest.fixture
async def harness(tmp_path):
    async with Harness(db_path=str(tmp_path / "meetops.db"), admins=ADMIN) as h:
        yield h


@pytest.fixture
async def ada(harness):
    user = harness.user("U0001")
    yield user
    await user.aclose()


@pytest.fixture
async def grace(ada):
    return ada.as_user("U0002")


@pytest.fixture
async def linus(ada):
    return ada.as_user(ADMIN)


@pytest.fixture
async def sandbox(harness):
    """The sandbox's control API, to simulate what people do in a meeting."""
    async with httpx.AsyncClient(base_url=harness.sandbox_url, timeout=10) as client:
        yield client
