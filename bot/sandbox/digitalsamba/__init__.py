"""A local emulator of the Digital Samba REST API, for tests, the console and demos.

    server = start_sandbox()            # running on a free loopback port
    client = httpx.Client(base_url=server.api_url,
                          headers={"Authorization": f"Bearer {server.state.developer_key}"})
    ...
    server.stop()

`/_sandbox/...` plays the world around the bot (people joining, summaries becoming
ready, faults); see `bot.sandbox.digitalsamba.control`.
"""

from __future__ import annotations

import socket
import sys

import uvicorn

from bot.devtools.serving import BackgroundServer, free_port

from .app import create_sandbox_app
from .models import API_PREFIX
from .state import SandboxState

__all__ = ["SandboxServer", "SandboxState", "create_sandbox_app", "serve_sandbox", "start_emulator", "start_sandbox"]


class SandboxServer(BackgroundServer):
    """A sandbox served from a background thread; `state` is its live world."""

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0):
        super().__init__(create_sandbox_app(state), host, port)
        self.state = state

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    def client_settings(self) -> dict:
        """Digital Samba settings (DigitalSambaSettings fields) that point the client at this sandbox."""
        return {"api_url": self.api_url, "team_id": self.state.team_id, "developer_key": self.state.developer_key}

    def __enter__(self) -> "SandboxServer":
        # start_sandbox() hands the server over running; the block only has to stop it.
        return self


def start_sandbox(state: SandboxState | None = None, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Serve a sandbox on loopback from a background thread; it is running on return.
    Stop it with `.stop()`, or use it as `with start_sandbox() as server:`."""
    server = SandboxServer(state or SandboxState(), host, port)
    server.start()
    return server


def start_emulator() -> SandboxServer:
    """The kit's entry point: a fresh sandbox with its own team id and key, running on loopback."""
    import secrets
    import uuid

    return start_sandbox(SandboxState(team_id=str(uuid.uuid4()), developer_key="sandbox-" + secrets.token_urlsafe(24)))


def serve_sandbox(host: str = "127.0.0.1", port: int = 0, state: SandboxState | None = None) -> None:
    """Serve a sandbox in the foreground until interrupted (`meetops sandbox --port N`)."""
    port = port or free_port(host)
    problem = _cannot_bind(host, port)
    if problem:
        # Before printing a team id and key that would never work.
        print(f"meetops sandbox: cannot listen on {host}:{port} ({problem}); choose another --port.",
              file=sys.stderr)
        sys.exit(2)
    state = state or SandboxState()
    print(f"Digital Samba sandbox: http://{host}:{port}{API_PREFIX}")
    print(f"  team id:       {state.team_id}")
    print(f"  developer key: {state.developer_key}")
    print(f"  control API:   http://{host}:{port}/_sandbox", flush=True)
    uvicorn.run(create_sandbox_app(state), host=host, port=port)


def _cannot_bind(host: str, port: int) -> str | None:
    """Why `host:port` cannot be served (for example, it is in use), or None when it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        return exc.strerror or str(exc)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn does, so a port merely in TIME_WAIT is not reported busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None
