"""An emulator's world: clock, request log, faults and webhook deliveries. State is changed from the
emulator's own event loop only (tests change it through the control API)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx

log = logging.getLogger(__name__)

REDACTED = "***"


class Refusal(Exception):
    """An API refusal: the status and the sentence; the app renders it in the provider's error shape."""

    def __init__(self, status: int, message: str, details: Any = None, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


@dataclass
class Faults:
    """Trouble to inject into API calls, set by tests or PUT /_sandbox/faults."""

    latency_ms: int = 0
    status: int | None = None
    count: int | None = None  # calls left to fail; None fails every call until cleared
    retry_after: int = 1
    paths: str | None = None  # only API paths containing this

    def applies_to(self, path: str) -> bool:
        return self.paths is None or self.paths in path

    def take_status(self, path: str) -> int | None:
        if self.status is None or not self.applies_to(path):
            return None
        status = self.status
        if self.count is not None:
            self.count -= 1
            if self.count <= 0:
                self.status = self.count = None
        return status


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any  # secrets replaced by "***"
    headers: dict[str, str] = field(default_factory=dict)  # content type and the like; never Authorization
    status: int | None = None


def redact(value: Any, secret_fields: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if k in secret_fields and v is not None else redact(v, secret_fields))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret_fields) for v in value]
    return value


@dataclass
class Delivery:
    url: str
    event: str
    attempts: int
    status: int | None
    error: str | None


class WebhookOutbox:
    """Delivers events in the background, in order, signed by the emulator's `sign(body) -> headers`;
    one retry after `retry_delay`, then dropped (and recorded in `deliveries`)."""

    def __init__(self, sign: Callable[[bytes], dict[str, str]], retry_delay: float = 0.5):
        self.sign = sign
        self.retry_delay = retry_delay
        self.deliveries: list[Delivery] = []
        self._queue: asyncio.Queue[tuple[str, str, bytes]] | None = None
        self._worker: asyncio.Task | None = None
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._client = httpx.AsyncClient(timeout=5.0, trust_env=False)
        self._worker = asyncio.create_task(self._work())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def send(self, url: str, event: str, body: bytes) -> None:
        """Queue a delivery (thread-safe: a test may change the world from outside the server's loop)."""
        if self._loop is None or self._queue is None:
            log.warning("emulator webhook %s not sent: the emulator is not serving", event)
            return
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (url, event, body))

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            url, event, body = await self._queue.get()
            attempts, (status, error) = 1, await self._post(url, body)
            if error is not None:
                await asyncio.sleep(self.retry_delay)
                attempts, (status, error) = 2, await self._post(url, body)
            if error is not None:
                log.warning("emulator webhook %s to %s dropped after %d attempts: %s", event, url, attempts, error)
            self.deliveries.append(Delivery(url, event, attempts, status, error))

    async def _post(self, url: str, body: bytes) -> tuple[int | None, str | None]:
        assert self._client is not None
        headers = {"Content-Type": "application/json", **self.sign(body)}
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        return (response.status_code, None) if response.is_success else (response.status_code, f"HTTP {response.status_code}")


class World:
    """Base of an emulator's state. Subclasses add the platform's objects and `snapshot()`."""

    secret_fields: frozenset[str] = frozenset()

    def __init__(self, clock: Callable[[], datetime] | None = None):
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self.requests: list[LoggedRequest] = []
        self.faults = Faults()
        self.outbox = WebhookOutbox(self.sign_webhook)

    def now(self) -> datetime:
        return self._clock()

    def sign_webhook(self, body: bytes) -> dict[str, str]:
        """Headers that authenticate a delivery the provider's way (override)."""
        return {}

    def log_request(self, method: str, path: str, query: dict[str, str], body: Any,
                    headers: dict[str, str] | None = None) -> LoggedRequest:
        entry = LoggedRequest(method, path, query, redact(body, self.secret_fields), headers or {})
        self.requests.append(entry)
        return entry

    def requests_matching(self, method: str, path_tail: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.method == method.upper() and r.path.endswith(path_tail)]

    def reset(self) -> None:
        self.requests.clear()
        self.faults = Faults()

    def snapshot(self) -> dict[str, Any]:
        return {}
