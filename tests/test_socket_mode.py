"""`meetops serve` with SLACK_APP_TOKEN: Slack over Socket Mode, Digital Samba's webhooks still over HTTP."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from bot import ids
from bot.cli import _serve_socket_mode
from bot.config import Settings
from bot.devtools.serving import free_port
from bot.devtools.slack_double import SlackDouble
from bot.devtools.slack_user import SlackUser
from bot.devtools.socket_mode import SocketModeDouble
from bot.runtime import Runtime
from bot.sandbox import SandboxState, start_sandbox


async def test_commands_and_clicks_arrive_over_socket_mode(tmp_path):
    state = SandboxState(developer_key="k" * 40)
    port = free_port()
    with start_sandbox(state) as sandbox, SlackDouble() as double:
        socket = SocketModeDouble().start()
        double.socket_url = socket.url
        settings = Settings(_env_file=None, slack_bot_token=double.bot_token, slack_app_token=double.app_token,
                            slack_api_url=double.api_url, meetops_db=str(tmp_path / "db"), port=port)
        ds = {"_env_file": None, "team_id": state.team_id, "developer_key": state.developer_key,
              "api_url": sandbox.api_url, "webhook_token": "hook-token"}
        assert settings.socket_mode and settings.slack_signing_secret is None
        serving = asyncio.create_task(_serve_socket_mode(Runtime(settings, provider_overrides={"digitalsamba": ds})))
        try:
            await socket.connected()
            # A person is only a payload here: Socket Mode envelopes carry no signature.
            ada = SlackUser("http://unused.invalid", "unused", double)
            ack, seconds = await socket.send("slash_commands", ada.command_form("new standup"))
            assert seconds < 1.0
            message = await double.wait_for(lambda: next(iter(double.messages("C0001")), None))
            assert message.blocks[0]["text"]["text"] == "standup"

            await socket.send("interactive", ada.as_user("U0002").click_payload(message, ids.JOIN))
            reply = await double.wait_for(lambda: next(iter(double.ephemerals("U0002")), None))
            assert "token=" in str(reply.blocks)

            # Digital Samba's webhooks need HTTP even in Socket Mode.
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as web:
                refused = await web.post("/webhooks/digitalsamba", json={"event": "session_ended"})
                accepted = await web.post("/webhooks/digitalsamba", json={"event": "unknown_event"},
                                          headers={"Authorization": "hook-token"})
                slack_over_http = await web.post("/slack/events", content=b"x")
            assert (refused.status_code, accepted.status_code) == (401, 200)
            assert slack_over_http.status_code == 404, "Slack does not come over HTTP in Socket Mode"
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            socket.stop()


async def test_socket_mode_runs_no_job_until_it_is_connected(tmp_path):
    """A digest is owed. While Slack refuses the Socket Mode connection nothing runs; once connected, the
    digest is posted (issue 7, item 11)."""
    from datetime import datetime, timedelta, timezone

    from storage.db import open_db
    from storage.digests import DigestRecord, save

    db_path = str(tmp_path / "db")
    db = open_db(db_path)
    save(db, DigestRecord(team_id="T0001", channel_id="C0001", cadence="daily", at_time="09:00", tz="UTC",
                          next_run=(datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()))
    db.close()
    state = SandboxState(developer_key="k" * 40)
    with start_sandbox(state) as sandbox, SlackDouble() as double:
        socket = SocketModeDouble().start()
        settings = Settings(_env_file=None, slack_bot_token=double.bot_token, slack_app_token=double.app_token,
                            slack_api_url=double.api_url, meetops_db=db_path, port=free_port())
        ds = {"_env_file": None, "team_id": state.team_id, "developer_key": state.developer_key,
              "api_url": sandbox.api_url}
        double.fail("apps.connections.open", "internal_error")  # Slack won't connect us for now
        runtime = Runtime(settings, provider_overrides={"digitalsamba": ds})
        serving = asyncio.create_task(_serve_socket_mode(runtime))
        try:
            await double.wait_for(lambda: double.calls_to("apps.connections.open"), 10)
            await asyncio.sleep(1.5)
            assert not runtime.is_serving and not runtime.services.scheduler.running
            assert not double.messages(), "no job ran while not connected"
            double.reset_faults()
            double.socket_url = socket.url
            await socket.connected()
            posted = await double.wait_for(lambda: double.messages("C0001"), 20)
            assert runtime.is_serving and "meetings in" in str(posted[0].blocks)
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            socket.stop()
