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

import uvicorn


def quiet_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server that leaves the process's signal handlers alone (it is not the process's main server)."""
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    return server


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

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
