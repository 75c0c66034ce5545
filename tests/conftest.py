"""Fixtures: the real app over HTTP, the sandbox and the Slack double, fresh for each test."""

from __future__ import annotations

import logging

import httpx
import pytest

from bot.devtools.harness import Harness
from bot.devtools.slack_double import SlackDouble

ADMIN = "U0003"  # linus


@pytest.fixture(autouse=True)
def restore_logging():
    """A test that runs the CLI's main() installs meetops' log handler on the root logger; left there, its
    secret filter (which redacts tracebacks, taking them off the record) ran before later tests' caplog."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def no_stray_markup(monkeypatch):
    """Whatever a test did, every message the bot sent shows as written: Slack reads each `<…>` in mrkdwn as a
    person, a channel or a link, so a reply saying `/meet new <name>` shows "/meet new name". Slack takes such
    a message without complaint; the double notes it (`take_markup_problems`) and the test fails here."""
    doubles: list[SlackDouble] = []
    start = SlackDouble.start

    def noted(double: SlackDouble) -> SlackDouble:
        doubles.append(double)
        return start(double)

    monkeypatch.setattr(SlackDouble, "start", noted)
    yield
    problems = [problem for double in doubles for problem in double.take_markup_problems()]
    assert not problems, "the bot sent markup Slack would not show as written:\n" + "\n".join(problems)


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
