"""Slack's Socket Mode end, on loopback: a WebSocket server that hands envelopes to the bot.

The bot connects exactly as to Slack: `apps.connections.open` (answered by the
Slack double with this server's URL), then a WebSocket. A test sends a slash
command or a click as an envelope and gets back the bot's acknowledgement and
how long it took. aiohttp serves it (already a dependency of slack-sdk's
Socket Mode client), on its own thread and event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from concurrent.futures import Future

from aiohttp import WSMsgType, web

from bot.devtools.serving import free_port


class SocketModeDouble:
    def __init__(self, host: str = "127.0.0.1"):
        self.host, self.port = host, free_port(host)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="socket-mode", daemon=True)
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/link"

    def start(self) -> "SocketModeDouble":
        self._thread.start()
        self._run(self._serve()).result(10)
        return self

    def stop(self) -> None:
        self._run(self._shutdown()).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self, coro) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def _shutdown(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        await self._runner.cleanup()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": len(self._sockets),
                                      "connection_info": {"app_id": "A0001"}}))
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            reply = json.loads(message.data)
            waiting = self._acks.pop(reply.get("envelope_id", ""), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(reply.get("payload") or {})
        self._sockets.remove(ws)
        return ws

    # -- what a test does ------------------------------------------------------------

    async def connected(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._sockets:
            if time.monotonic() > deadline:
                raise TimeoutError("the bot did not connect over Socket Mode")
            await asyncio.sleep(0.02)

    async def send(self, kind: str, payload: dict, timeout: float = 5.0) -> tuple[dict, float]:
        """Deliver one envelope ("slash_commands", "interactive", …); returns (ack payload, seconds to ack)."""
        return await asyncio.wrap_future(self._run(self._send(kind, payload, timeout)))

    async def _send(self, kind: str, payload: dict, timeout: float) -> tuple[dict, float]:
        envelope_id = f"envelope-{next(self._ids)}"
        acked = self._loop.create_future()
        self._acks[envelope_id] = acked
        started = time.monotonic()
        await self._sockets[-1].send_str(json.dumps({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                                     "accepts_response_payload": True}))
        ack = await asyncio.wait_for(acked, timeout)
        return ack, time.monotonic() - started
