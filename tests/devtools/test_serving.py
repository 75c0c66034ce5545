"""Background servers (the sandbox, the emulators, the Slack double) start, answer and stop as asked."""

from __future__ import annotations

import socket
import threading

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.devtools.serving import BackgroundServer, stop_together


def _app(name: str) -> Starlette:
    return Starlette(routes=[Route("/", lambda request: PlainTextResponse(name))])


def _refuses(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_servers_stopped_together_answer_until_then_and_refuse_after():
    servers = [BackgroundServer(_app("a")).start(), BackgroundServer(_app("b")).start()]
    assert [httpx.get(s.url).text for s in servers] == ["a", "b"]

    stop_together(servers)

    assert all(_refuses(s.port) for s in servers)
    stop_together(servers)  # stopping again is harmless


def test_a_stop_asked_from_another_thread_stops_it():
    server = BackgroundServer(_app("a")).start()
    asker = threading.Thread(target=server.request_stop)
    asker.start()
    asker.join()
    server.stop()
    assert _refuses(server.port)
