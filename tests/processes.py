"""`meetops serve` as a real process: started, killed with SIGKILL, started again on the same database.

The Slack double and the Digital Samba sandbox run in the test process (on loopback threads), so they
outlive the bot: what was posted before a kill is still there after it, as in real life.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.devtools.harness import SIGNING_SECRET, WEBHOOK_TOKEN
from bot.devtools.serving import free_port
from bot.devtools.slack_double import SlackDouble
from bot.devtools.slack_user import SlackUser
from bot.sandbox import SandboxState

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0


class BotProcess:
    """One `python -m bot serve` at a time, on a fixed database and port; its log goes to a file."""

    def __init__(self, tmp: Path, double: SlackDouble, sandbox_url: str, state: SandboxState, *,
                 port: int | None = None, **settings: str):
        self.tmp, self.double, self.sandbox_url, self.state = tmp, double, sandbox_url, state
        self.port = port or free_port()
        self.db_path = str(tmp / "meetops.db")
        self.settings = settings
        self.proc: subprocess.Popen | None = None
        self.runs = 0
        self.log_path = tmp / "bot-0.log"

    def env(self) -> dict[str, str]:
        # Nothing from the developer's environment decides how this bot runs.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLACK_", "DS_", "MEETOPS_", "EYESON_", "OPENTALK_", "CHALK_"))
               and k not in ("HOST", "PORT")}
        env.update({
            "SLACK_BOT_TOKEN": self.double.bot_token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.double.api_url, "DS_TEAM_ID": self.state.team_id,
            "DS_DEVELOPER_KEY": self.state.developer_key, "DS_API_URL": self.sandbox_url + "/api/v1",
            "DS_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "DS_TIMEOUT_SECONDS": "5", "MEETOPS_DB": self.db_path,
            "HOST": "127.0.0.1", "PORT": str(self.port), "PYTHONPATH": str(ROOT),
        })
        env.update(self.settings)
        return env

    def start(self, *, wait: bool = True) -> "BotProcess":
        self.runs += 1
        self.log_path = self.tmp / f"bot-{self.runs}.log"
        log = open(self.log_path, "w")
        # cwd: a folder with no .env file.
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=self.tmp, env=self.env(),
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if wait:
            self.wait_serving()
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_serving(self) -> None:
        """Until it says "serving" and answers /healthz."""
        deadline = time.monotonic() + START_TIMEOUT
        while not ("serving" in self.log and self._healthy()):
            if self.proc.poll() is not None:
                raise RuntimeError(f"meetops serve exited with {self.proc.returncode}:\n{self.log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"meetops serve did not start:\n{self.log}")
            time.sleep(0.05)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_exit(self, timeout: float = START_TIMEOUT) -> int:
        return self.proc.wait(timeout)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def user(self, user_id: str = "U0001", channel_id: str = "C0001") -> SlackUser:
        return SlackUser(events_url=f"{self.url}/slack/events", signing_secret=SIGNING_SECRET, double=self.double,
                         team_id=self.double.team_id, user_id=user_id, channel_id=channel_id, channel_name="general")

    def register_webhook(self) -> None:
        """Point the sandbox's webhooks at this bot, as `meetops webhooks register` does."""
        from bot.providers.digitalsamba.webhooks import EVENTS

        headers = {"Authorization": f"Bearer {self.state.developer_key}"}
        with httpx.Client(base_url=self.sandbox_url + "/api/v1", headers=headers, timeout=10) as api:
            api.post("/webhooks", json={"endpoint": f"{self.url}/webhooks/digitalsamba", "name": "meetops",
                                        "events": list(EVENTS), "authorization_header": WEBHOOK_TOKEN},
                     ).raise_for_status()
