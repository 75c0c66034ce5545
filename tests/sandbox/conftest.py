"""One sandbox server for the whole run (a start/stop costs ~0.2 s), reset before each test,
with a clock the tests move by hand; plus a webhook receiver on its own loopback server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.devtools.serving import BackgroundServer
from bot.sandbox import SandboxServer, SandboxState, start_sandbox

from .helpers import eventually

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def server() -> Iterator[SandboxServer]:
    with start_sandbox(SandboxState(team_id="team-1", developer_key="k" * 40)) as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def sandbox(server: SandboxServer, clock: Clock) -> SandboxServer:
    server.state.reset()
    server.state.now = clock
    server.state.config.webhook_retry_delay = 0.05
    return server


@pytest.fixture
def state(sandbox: SandboxServer) -> SandboxState:
    return sandbox.state


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sandbox.state.developer_key}"}
    with httpx.Client(base_url=sandbox.api_url, headers=headers, trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url + "/_sandbox", trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
def room(api: httpx.Client) -> dict[str, Any]:
    response = api.post("/rooms", json={"friendly_url": "standup", "description": "Daily standup"})
    assert response.status_code == 200, response.text
    return response.json()


# -- webhook receiver ---------------------------------------------------------------------


class Receiver:
    """Records deliveries. The last path segment picks the answer: `ok` (204), `flaky`
    (500 the first time, then 204) or `down` (always 503)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/{token}/{mode}", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        self.received.append(
            {
                "path": request.url.path,
                "authorization": request.headers.get("authorization"),
                "body": await request.json(),
            }
        )
        mode = request.path_params["mode"]
        hits = sum(1 for r in self.received if r["path"] == request.url.path)
        if mode == "down" or (mode == "flaky" and hits == 1):
            return Response(status_code=503 if mode == "down" else 500)
        return Response(status_code=204)


class Hooks:
    """One test's view of the receiver: its own URLs, so late deliveries from an earlier
    test can never be mistaken for this one's."""

    def __init__(self, receiver: Receiver, base_url: str):
        self.receiver = receiver
        self.base_url = base_url
        self.prefix = f"/{uuid.uuid4().hex}"

    def url(self, mode: str = "ok") -> str:
        return f"{self.base_url}{self.prefix}/{mode}"

    def received(self, mode: str = "ok") -> list[dict[str, Any]]:
        return [r for r in self.receiver.received if r["path"] == f"{self.prefix}/{mode}"]

    def wait(self, count: int, mode: str = "ok", timeout: float = 3.0) -> list[dict[str, Any]]:
        eventually(lambda: len(self.received(mode)) >= count, timeout)
        return self.received(mode)


@pytest.fixture(scope="session")
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with BackgroundServer(receiver.app) as server:
        yield receiver, server.url


@pytest.fixture
def hooks(receiver: tuple[Receiver, str]) -> Hooks:
    return Hooks(*receiver)
