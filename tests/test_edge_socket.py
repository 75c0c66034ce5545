"""Socket Mode carries no signature, but its payloads are validated all the same (issue 7, item 5)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot import ids
from bot.cli import _serve_socket_mode
from bot.config import Settings
from bot.devtools.serving import free_port
from bot.devtools.slack_double import SlackDouble
from bot.devtools.slack_user import SlackUser
from bot.devtools.socket_mode import SocketModeDouble
from bot.runtime import Runtime
from bot.sandbox import SandboxState, start_sandbox


async def test_malformed_payloads_over_socket_mode_are_refused_in_one_line(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    state = SandboxState(developer_key="k" * 40)
    with start_sandbox(state) as sandbox, SlackDouble() as double:
        socket = SocketModeDouble().start()
        double.socket_url = socket.url
        settings = Settings(_env_file=None, slack_bot_token=double.bot_token, slack_app_token=double.app_token,
                            slack_api_url=double.api_url, ds_team_id=state.team_id,
                            ds_developer_key=state.developer_key, ds_api_url=sandbox.api_url,
                            meetops_db=str(tmp_path / "db"), port=free_port())
        serving = asyncio.create_task(_serve_socket_mode(Runtime(settings)))
        try:
            await socket.connected()
            ada = SlackUser("http://unused.invalid", "unused", double)
            await socket.send("slash_commands", ada.command_form("new standup"))
            message = await double.wait_for(lambda: next(iter(double.messages("C0001")), None))
            click = ada.click_payload(message, ids.JOIN)
            bad = [{**click, "user": "U2"}, {**click, "actions": []},
                   {**click, "actions": [{**click["actions"][0], "value": {"room": 1}}]},
                   {**click, "actions": [{**click["actions"][0], "value": 7}]}]
            before = len(double.calls) + len(double.responses)
            for payload in bad:
                await socket.send("interactive", payload)
            await double.wait_idle(quiet=0.5)
            assert len(double.calls) + len(double.responses) == before, "no handler ran"
            refusals = [r for r in caplog.records if "refused a malformed block_actions" in r.getMessage()]
            assert len(refusals) == len(bad)
            assert not [r for r in caplog.records if r.exc_info or r.exc_text or r.levelno >= logging.ERROR]
            # and a good click still works
            await socket.send("interactive", click)
            await double.wait_for(lambda: next(iter(double.ephemerals("U0001")), None))
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            socket.stop()
