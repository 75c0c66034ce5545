"""Serve an ASGI app on loopback from a background thread.

The sandbox and the Slack double run this way in the console and in tests: each
gets its own event loop, so a slow fake provider never stalls the bot's loop,
and each is reached over real HTTP exactly as the real service would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterable
from typing import Protocol

import uvicorn


class PromptStop:
    """For a uvicorn.Server: `request_stop()` takes effect at once, from any thread.

    uvicorn looks at `should_exit` on a 0.1 s tick, so a stop waited 50 ms on average before anything
    happened, and a test run stops three servers (the bot, the sandbox, the Slack double) about 800
    times. Here the tick also wakes when a stop is asked for; what it does on each tick is uvicorn's."""

    _stop_asked: asyncio.Event | None = None
    _serving_loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._serving_loop = asyncio.get_running_loop()
        self._stop_asked = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):  # type: ignore[attr-defined]
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_asked.wait(), 0.1)

    def request_stop(self) -> None:
        self.should_exit = True
        loop, asked = self._serving_loop, self._stop_asked
        if loop is not None and asked is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between: it has stopped anyway
                loop.call_soon_threadsafe(asked.set)


class PromptServer(PromptStop, uvicorn.Server):
    pass


def quiet_server(config: uvicorn.Config) -> PromptServer:
    """A uvicorn server that leaves the process's signal handlers alone (it is not the process's main server)."""
    server = PromptServer(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    return server


class Stoppable(Protocol):
    def request_stop(self) -> None: ...
    def stop(self) -> None: ...


def stop_together(servers: Iterable[Stoppable]) -> None:
    """Stop several background servers at once: each takes about 0.1 s (uvicorn lets connections finish),
    so one after another added up."""
    servers = list(servers)
    for server in servers:
        server.request_stop()
    for server in servers:
        server.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class BackgroundServer:
    """`with BackgroundServer(app) as server: server.url` — started and stopped with the block."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, *, backlog: int = 2048):
        self.app = app
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            backlog=backlog,
            timeout_keep_alive=30,
        )
        self._server = quiet_server(config)
        self._thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "BackgroundServer":
        def run() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._server.serve())
            self.loop.close()

        self._thread = threading.Thread(target=run, name=f"server:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def request_stop(self) -> None:
        """Ask it to stop and return at once; `stop()` then waits for it."""
        self._server.request_stop()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self._server.request_stop()
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
