"""`meetops` on the command line, as an operator meets it: settings checked at start-up, webhooks managed, and
every failure one line that says what to do (exit code 2, no traceback).

Everything runs through `bot.cli.main([...])` against a sandbox and a Slack double on loopback.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.config import Settings, load_settings, settings_models, settings_rows
from bot.devtools.serving import free_port
from bot.devtools.slack_double import SlackDouble
from bot.providers.chalk.settings import ChalkSettings
from bot.providers.digitalsamba.settings import DigitalSambaSettings
from bot.sandbox import SandboxState, start_sandbox

ROOT = Path(__file__).resolve().parents[1]
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO ")  # a log record, not the answer
SETTING_NAMES = [name for name, _, _ in settings_rows(settings_models())]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No setting from the machine running the tests, no .env from the checkout; logging restored afterwards."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def world():
    state = SandboxState(developer_key="dev-key-" + "k" * 32)
    with start_sandbox(state) as sandbox, SlackDouble() as double:
        yield state, sandbox, double


def use(monkeypatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def serve_env(monkeypatch, state, sandbox, double, **env: str) -> None:
    use(monkeypatch, **{
        "SLACK_BOT_TOKEN": double.bot_token, "SLACK_API_URL": double.api_url, "SLACK_SIGNING_SECRET": "s" * 16,
        "DS_TEAM_ID": state.team_id, "DS_DEVELOPER_KEY": state.developer_key, "DS_API_URL": sandbox.api_url,
        "MEETOPS_DB": os.path.join(os.getcwd(), "meetops.db"), "HOST": "127.0.0.1", "PORT": str(free_port()), **env})


def fails(argv: list[str], capsys) -> str:
    """Run the CLI expecting a refusal: exit code 2 and one line on stderr (returned), no traceback."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    out = capsys.readouterr()
    assert exit_.value.code == 2, out
    assert "Traceback" not in out.out + out.err
    assert " WARNING " not in out.err and " ERROR " not in out.err, out.err
    lines = [line for line in out.err.splitlines() if line.strip() and not LOG_LINE.match(line)]
    assert len(lines) == 1, out.err
    return lines[0]


@pytest.fixture
def no_uvicorn(monkeypatch):
    """`serve` gets as far as starting the HTTP server; record that instead of serving forever."""
    from bot.server import ServingServer

    started = []
    monkeypatch.setattr(ServingServer, "run", lambda server, *a, **kw: started.append(
        {"host": server.config.host, "port": server.config.port}))
    return started


# -- settings -------------------------------------------------------------------------------


def test_an_empty_value_means_unset_in_the_environment_and_in_dotenv(monkeypatch, tmp_path):
    use(monkeypatch, SLACK_APP_TOKEN="", DS_DEVELOPER_KEY="", SLACK_SIGNING_SECRET="", DS_API_URL="", PORT="")
    (tmp_path / ".env").write_text("MEETOPS_TIMEZONE=\nSLACK_BOT_TOKEN=  \nMEETOPS_ADMINS=\n")
    settings = load_settings()
    assert not settings.socket_mode  # SLACK_APP_TOKEN= no longer switches to Socket Mode
    assert settings.slack_signing_secret is None and settings.slack_bot_token is None
    assert (settings.port, settings.meetops_timezone) == (3000, "UTC")
    ds = DigitalSambaSettings()
    assert not ds.configured and not ds.problems()  # DS_DEVELOPER_KEY= is no key, so it demands no DS_TEAM_ID
    assert ds.api_url == "https://api.digitalsamba.com/api/v1"
    # Blank arguments count as unset too.
    assert Settings(_env_file=None, slack_app_token=" ", meetops_admins="").slack_app_token is None


def test_serve_names_a_blank_signing_secret_as_missing(monkeypatch, capsys):
    use(monkeypatch, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="", SLACK_APP_TOKEN="")
    with pytest.raises(SystemExit) as exit_:
        main(["serve"])
    assert exit_.value.code == 2
    assert "SLACK_SIGNING_SECRET" in capsys.readouterr().err


@pytest.mark.parametrize("env, named", [
    ({"MEETOPS_TIMEZONE": "Mars/X"}, "MEETOPS_TIMEZONE: unknown time zone 'Mars/X'"),
    ({"PORT": "abc"}, "PORT: Input should be a valid integer"),
    ({"SLACK_API_URL": "notaurl"}, "SLACK_API_URL: 'notaurl' is not a URL"),
])
def test_the_console_reports_a_wrong_setting_as_cleanly_as_serve(env, named, tmp_path):
    run = subprocess.run([sys.executable, "-m", "bot", "console"], input="help\n", capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 2
    assert "Traceback" not in run.stdout + run.stderr
    assert named in run.stderr
    assert run.stderr.count("\n") <= 3, run.stderr  # the heading and the setting, nothing else


def test_version_and_serve_help_list_every_setting(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("meetops 0.")
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    help_text = capsys.readouterr().out
    assert "--no-check" in help_text
    for name, default, meaning in settings_rows(settings_models()):
        assert f"  {name}" in help_text
    assert "DS_API_URL (default https://api.digitalsamba.com/api/v1)" in help_text
    assert "how long a personal join link works" in help_text  # meanings come from the model's descriptions


def test_the_readme_settings_table_is_generated_from_the_model(tmp_path):
    """`cog -r README.md` regenerates it; this fails when someone changes a setting and not the README."""
    from cogapp import Cog

    readme = (ROOT / "README.md").read_text()
    assert "cog.out(settings_markdown([Settings]))" in readme
    for name in Settings.model_fields:
        assert f"| `{name.upper()}` |" in readme
    assert Cog().main(["cog", "--check", str(ROOT / "README.md")]) == 0, "run: .venv/bin/cog -r README.md"
    stale = tmp_path / "README.md"
    stale.write_text(readme.replace("how long a personal join link works", "how long links last"))
    assert Cog().main(["cog", "--check", str(stale)]) != 0  # the check itself can fail


# -- start-up checks --------------------------------------------------------------------------


def test_serve_starts_when_every_check_passes_and_warns_about_admins_that_are_names(
        monkeypatch, world, capsys, no_uvicorn):
    state, sandbox, double = world
    serve_env(monkeypatch, state, sandbox, double, MEETOPS_ADMINS="U0001, grace,W0ENTERPRISE,@linus")
    main(["serve"])
    assert len(no_uvicorn) == 1
    err = capsys.readouterr().err
    assert "MEETOPS_ADMINS: 'grace' is not a Slack user id" in err
    assert "MEETOPS_ADMINS: '@linus' is not a Slack user id" in err
    assert err.index("'grace'") < err.index("'@linus'"), "in the order the setting lists them"
    assert "U0001" not in err and "W0ENTERPRISE" not in err
    assert [c.method for c in double.calls] == ["auth.test"]


@pytest.mark.parametrize("case, named", [
    ("no /api/v1", "DS_API_URL: {sandbox} has no rooms list (HTTP 404 for GET {sandbox}/rooms); it should end in /api/v1"),
    ("404 host", "DS_API_URL: {sandbox}/nothing/api/v1 has no rooms list (HTTP 404 for GET {sandbox}/nothing/api/v1/rooms); is it"),
    ("wrong key", "DS_DEVELOPER_KEY: Digital Samba refused the key (HTTP 401)"),
    # The key alone doesn't say the team: a wrong DS_TEAM_ID passed, and then every join link was refused.
    ("wrong team", "DS_TEAM_ID: Digital Samba accepted the developer key but not with this team id"),
    ("unreachable", "DS_API_URL: cannot reach http://127.0.0.1:{port}/api/v1"),
    ("not the API", "DS_API_URL: {slack}/api answered, but not like the Digital Samba API"),
])
def test_serve_refuses_a_provider_setting_that_does_not_work(case, named, monkeypatch, world, capsys, no_uvicorn):
    state, sandbox, double = world
    port = free_port()
    env = {
        "no /api/v1": {"DS_API_URL": sandbox.url},
        "404 host": {"DS_API_URL": sandbox.url + "/nothing/api/v1"},
        "wrong key": {"DS_DEVELOPER_KEY": "not-the-key-" + "x" * 20},
        "wrong team": {"DS_TEAM_ID": "not-my-team"},
        "unreachable": {"DS_API_URL": f"http://127.0.0.1:{port}/api/v1"},
        "not the API": {"DS_API_URL": double.url + "/api"},  # Slack's API answers 200, but not as Digital Samba
    }[case]
    serve_env(monkeypatch, state, sandbox, double, **env)
    line = fails(["serve"], capsys)
    assert named.format(sandbox=sandbox.url, port=port, slack=double.url) in line
    assert "not-the-key" not in line and state.developer_key not in line
    assert not no_uvicorn  # refused before serving


@pytest.mark.parametrize("env, named", [
    # Two platforms set up, none chosen: the default would have been Digital Samba's local emulator.
    ({"EYESON_API_KEY": "e" * 24, "CHALK_API_KEY": "ck_test_" + "c" * 24,
      "CHALK_API_URL": "https://chalk.example.com/api/v1",
      "CHALK_JOIN_URL": "https://meet.example.com/join?room={room}&token={token}&name={name}"},
     "Eyeson and Chalk are set up, so new rooms need one of them: set MEETOPS_PROVIDER to eyeson or chalk"),
    # The one chosen has no credentials while another has.
    ({"MEETOPS_PROVIDER": "eyeson"},
     "MEETOPS_PROVIDER is eyeson, but Eyeson has no credentials here, so new rooms would go to a local emulator. "
     "Give its credentials, or set MEETOPS_PROVIDER to digitalsamba."),
])
def test_serve_refuses_to_give_new_rooms_to_an_emulator_when_real_platforms_are_set_up(
        env, named, monkeypatch, world, capsys, no_uvicorn):
    state, sandbox, double = world
    serve_env(monkeypatch, state, sandbox, double, **env)
    if "CHALK_API_KEY" in env:
        for name in ("DS_TEAM_ID", "DS_DEVELOPER_KEY", "DS_API_URL"):
            monkeypatch.delenv(name)
    assert named in fails(["serve"], capsys)
    assert not no_uvicorn and not double.calls  # refused before anything, Slack included


def test_no_check_starts_offline(monkeypatch, world, capsys, no_uvicorn):
    state, sandbox, double = world
    serve_env(monkeypatch, state, sandbox, double, DS_API_URL=f"http://127.0.0.1:{free_port()}/api/v1",
              SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    main(["serve", "--no-check"])
    assert len(no_uvicorn) == 1
    assert "--no-check" in capsys.readouterr().err


@pytest.mark.parametrize("fault, said", [({"status": 503}, "answered HTTP 503"),
                                         ({"status": 429, "retry_after": 1}, "is rate-limiting")])
def test_a_platform_in_trouble_at_start_up_does_not_keep_the_bot_from_slack(
        fault, said, monkeypatch, world, capsys, no_uvicorn):
    """A server error or a rate limit says nothing about the settings: serve starts and warns."""
    state, sandbox, double = world
    serve_env(monkeypatch, state, sandbox, double)
    httpx.put(sandbox.url + "/_sandbox/faults", json=fault).raise_for_status()
    main(["serve"])
    assert len(no_uvicorn) == 1
    err = capsys.readouterr().err
    assert f"Digital Samba at {sandbox.url}/api/v1 {said} to the start-up check: trouble on its side, not a " \
           "setting. Starting anyway" in err


def test_the_sandbox_needs_no_probe(monkeypatch, world, capsys, no_uvicorn):
    state, sandbox, double = world
    use(monkeypatch, SLACK_BOT_TOKEN=double.bot_token, SLACK_API_URL=double.api_url, SLACK_SIGNING_SECRET="s" * 16,
        DS_API_URL=f"http://127.0.0.1:{free_port()}/api/v1")  # would fail a probe; no key = sandbox
    main(["serve"])
    assert len(no_uvicorn) == 1


@pytest.mark.parametrize("token, slack_says, named", [
    ("xapp-fake", None, "Slack refused SLACK_APP_TOKEN (invalid_auth: Slack does not know this token)"),
    ("xoxb-a-bot-token", None, "SLACK_APP_TOKEN must be an app-level token (xapp-…"),
    ("xapp-of-another-kind", "not_allowed_token_type", "Slack refused SLACK_APP_TOKEN (not_allowed_token_type: it is "
                                                        "not an app-level token"),
])
def test_serve_refuses_a_socket_mode_token_slack_would_refuse(token, slack_says, named, monkeypatch, world, capsys):
    state, sandbox, double = world
    if slack_says:
        double.fail("apps.connections.open", slack_says)
    serve_env(monkeypatch, state, sandbox, double, SLACK_APP_TOKEN=token)
    with pytest.raises(SystemExit) as exit_:
        main(["serve"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert named in err
    assert token not in err
    assert "connected to Slack over Socket Mode" not in err


# -- webhooks ------------------------------------------------------------------------------


def provider_env(monkeypatch, state, sandbox) -> None:
    use(monkeypatch, DS_TEAM_ID=state.team_id, DS_DEVELOPER_KEY=state.developer_key, DS_API_URL=sandbox.api_url)


def test_registering_again_replaces_the_webhook_and_list_and_delete_manage_them(monkeypatch, world, capsys):
    state, sandbox, _ = world
    provider_env(monkeypatch, state, sandbox)
    other = state.create_webhook(endpoint="https://elsewhere.example/hook", events=["session_ended"], name="crm",
                                 authorization_header="crm-token")
    url = "https://bot.example.com/webhooks/digitalsamba"

    main(["webhooks", "register", "--url", url])
    first = capsys.readouterr().out
    first_token = first.split("DS_WEBHOOK_TOKEN=")[1].strip()
    main(["webhooks", "register", "--url", url])
    second = capsys.readouterr().out
    second_token = second.split("DS_WEBHOOK_TOKEN=")[1].strip()

    ours = [hook for hook in state.webhooks.values() if hook.endpoint == url]
    assert len(ours) == 1, "registering twice must not stack two webhooks"
    assert ours[0].authorization_header == second_token != first_token
    assert "replaces the webhook meetops registered before" in second
    assert other.id in state.webhooks  # someone else's webhook is left alone

    main(["webhooks", "list"])
    listed = capsys.readouterr().out
    assert f"{ours[0].id}  meetops  {url}" in listed and other.id in listed
    assert second_token not in listed and "crm-token" not in listed  # authorization values are secrets

    main(["webhooks", "delete", ours[0].id])
    assert capsys.readouterr().out.strip() == f"Deleted Digital Samba webhook {ours[0].id}."
    assert list(state.webhooks) == [other.id]
    assert f"no webhook '{ours[0].id}'" in fails(["webhooks", "delete", ours[0].id], capsys)


def test_webhooks_list_says_when_there_are_none(monkeypatch, world, capsys):
    state, sandbox, _ = world
    provider_env(monkeypatch, state, sandbox)
    main(["webhooks", "list"])
    # The command it suggests names the provider: run as printed, it works whatever MEETOPS_PROVIDER says.
    assert ("No Digital Samba webhooks are registered. `meetops webhooks register --provider digitalsamba --url "
            "https://<your host>/webhooks/digitalsamba` registers meetops'.") in capsys.readouterr().out


def test_webhooks_commands_default_to_the_provider_serve_uses(monkeypatch, world, capsys):
    """With only Eyeson set up, `meetops webhooks list` is about Eyeson, not an unconfigured Digital Samba."""
    from bot.sandbox.eyeson import start_emulator

    eyeson = start_emulator()
    try:
        use(monkeypatch, **{f"EYESON_{k.upper()}": str(v) for k, v in eyeson.client_settings().items()})
        main(["webhooks", "list", "--log-level", "debug"])  # the flag after the command too, any case
    finally:
        eyeson.stop()
    assert "No Eyeson webhooks are registered" in capsys.readouterr().out


def test_a_provider_without_webhooks_says_so_once(capsys):
    line = fails(["webhooks", "list", "--provider", "opentalk"], capsys)
    assert line.count("OpenTalk sends no webhooks") == 1 and line.endswith("There is no webhook to list.")


def test_deleting_no_webhook_at_all_is_refused(capsys):
    assert fails(["webhooks", "delete", " "], capsys) == "Which webhook? Give its id: `meetops webhooks list` shows them."


@pytest.mark.parametrize("argv", [["serve"], ["webhooks", "list", "--provider", "eyeson"]])
def test_an_unreachable_provider_is_said_once_in_the_words_of_the_command(argv, monkeypatch, world, capsys):
    state, sandbox, double = world
    serve_env(monkeypatch, state, sandbox, double, MEETOPS_PROVIDER="eyeson", EYESON_API_KEY="e" * 24,
              EYESON_API_URL=f"http://127.0.0.1:{free_port()}")
    line = fails(argv, capsys)
    assert "EYESON_API_URL: no usable answer from http://127.0.0.1:" in line
    if argv == ["serve"]:
        assert line.count("meetops cannot start") == 1 and line.count("--no-check") == 1
    else:
        assert line.startswith("meetops webhooks: ") and "cannot start" not in line and "--no-check" not in line


@pytest.mark.parametrize("env, named", [
    ({"MEETOPS_PROVIDER": "eyeson", "EYESON_API_KEY": "e" * 24, "EYESON_API_URL": "nope"},
     "EYESON_API_URL: 'nope' is not a URL; give Eyeson's API address"),
    ({"DS_API_URL": "notaurl"}, "DS_API_URL: 'notaurl' is not a URL; give Digital Samba's API address"),
    ({"OPENTALK_API_URL": "ftp://ot.example.com"}, "OPENTALK_API_URL: 'ftp://ot.example.com' is not a URL"),
])
@pytest.mark.parametrize("argv", [["serve"], ["serve", "--no-check"]])
def test_an_api_address_that_is_no_url_is_named_even_without_checks(env, named, argv, monkeypatch, world, capsys,
                                                                     no_uvicorn):
    """Malformed is known without asking anyone: `--no-check` (which skips the network checks) started with
    DS_API_URL=notaurl and failed on the first command."""
    state, sandbox, double = world
    serve_env(monkeypatch, state, sandbox, double, **env)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and named in err and "Traceback" not in err
    assert not no_uvicorn and not double.calls, "refused before anything, Slack included"


def test_a_provider_setting_of_only_spaces_means_unset(monkeypatch):
    use(monkeypatch, DS_DEVELOPER_KEY="  ", CHALK_API_KEY=" ")
    assert not DigitalSambaSettings().configured and not DigitalSambaSettings().problems()
    assert ChalkSettings().api_key is None


def test_the_console_reports_a_wrong_provider_setting_as_cleanly_as_serve(tmp_path):
    run = subprocess.run([sys.executable, "-m", "bot", "console"], input="help\n", capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env={**os.environ, "CHALK_MAX_PARTICIPANTS": "abc",
                                                        "PYTHONPATH": str(ROOT)})
    assert run.returncode == 2 and "Traceback" not in run.stdout + run.stderr
    assert "CHALK_MAX_PARTICIPANTS: Input should be a valid integer" in run.stderr


@pytest.mark.parametrize("case, named", [
    ("bad url", "--url 'not-a-url' is not a URL: give the bot's public address"),
    ("bad port", "--url 'https://bot.example.com:99999/webhooks/digitalsamba' is not a URL"),
    ("wrong key", "DS_DEVELOPER_KEY: Digital Samba refused the key"),
    ("unreachable", "DS_API_URL: cannot reach"),
    ("no key", "talks to the real Digital Samba, which is not configured here. Dashboard → Team Settings"),
    ("bad setting", "DS_TIMEOUT_SECONDS: Input should be a valid number"),
])
def test_every_webhooks_failure_is_one_line_that_says_what_to_do(case, named, monkeypatch, world, capsys):
    state, sandbox, _ = world
    provider_env(monkeypatch, state, sandbox)
    url = "https://bot.example.com/webhooks/digitalsamba"
    if case == "bad url":
        url = "not-a-url"
    elif case == "bad port":
        url = "https://bot.example.com:99999/webhooks/digitalsamba"
    elif case == "wrong key":
        use(monkeypatch, DS_DEVELOPER_KEY="wrong-key-" + "x" * 20)
    elif case == "unreachable":
        use(monkeypatch, DS_API_URL=f"http://127.0.0.1:{free_port()}/api/v1")
    elif case == "no key":
        use(monkeypatch, DS_DEVELOPER_KEY="")
    elif case == "bad setting":
        use(monkeypatch, DS_TIMEOUT_SECONDS="soon")
    if case == "bad setting":  # a settings report is a heading and one line per setting
        with pytest.raises(SystemExit) as exit_:
            main(["webhooks", "register", "--url", url])
        assert exit_.value.code == 2 and named in capsys.readouterr().err
    else:
        assert named in fails(["webhooks", "register", "--url", url], capsys)
    assert not state.webhooks  # nothing was registered


async def test_socket_mode_says_connected_only_once_it_is(tmp_path, caplog):
    import asyncio
    import contextlib

    from bot.cli import _serve_socket_mode
    from bot.devtools.socket_mode import SocketModeDouble
    from bot.runtime import Runtime

    state = SandboxState(developer_key="k" * 40)
    caplog.set_level(logging.INFO, logger="meetops")
    with start_sandbox(state) as sandbox, SlackDouble() as double:
        settings = Settings(_env_file=None, slack_bot_token=double.bot_token, slack_app_token=double.app_token,
                            slack_api_url=double.api_url, meetops_db=str(tmp_path / "db"), port=free_port())
        ds = {"digitalsamba": {"_env_file": None, "team_id": state.team_id, "developer_key": state.developer_key,
                               "api_url": sandbox.api_url}}
        # Slack cannot hand out a Socket Mode URL yet: the client keeps trying, and nobody is told "connected".
        serving = asyncio.create_task(_serve_socket_mode(Runtime(settings, provider_overrides=ds)))
        socket = SocketModeDouble().start()
        try:
            await asyncio.sleep(1.0)
            assert "connected to Slack over Socket Mode" not in caplog.text
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
        # Once Slack answers, it connects and says so.
        double.socket_url = socket.url
        serving = asyncio.create_task(_serve_socket_mode(Runtime(settings, provider_overrides=ds)))
        try:
            await socket.connected()
            for _ in range(100):
                if "connected to Slack over Socket Mode" in caplog.text:
                    break
                await asyncio.sleep(0.05)
            assert "connected to Slack over Socket Mode" in caplog.text
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            socket.stop()


def test_the_scheduler_does_not_log_every_job_run():
    """The database checkpoint runs every 10 s: at INFO, APScheduler's two lines per run were most of the log."""
    from bot.logs import configure_logging

    configure_logging("INFO")
    assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
    assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.ERROR)  # failed jobs still are
    assert logging.getLogger("meetops").isEnabledFor(logging.INFO)


@pytest.mark.parametrize("case, named", [
    ("no folder", "MEETOPS_DB: cannot open '{tmp}/nowhere/meetops.db' for writing"),
    ("a folder", "MEETOPS_DB: cannot open '{tmp}' for writing"),
    ("not SQLite", "MEETOPS_DB: '{tmp}/notes.txt' is not an SQLite database (another program's file?). Point it at "
                   "meetops' own database, or at a new file name."),
    ("no such host", "HOST: 'example.invalid' is not an address of this machine"),
    ("busy port", "PORT: cannot listen on 127.0.0.1:{port} (Address already in use)"),
])
def test_serve_names_a_database_or_address_it_cannot_use(case, named, monkeypatch, world, capsys, no_uvicorn,
                                                          tmp_path):
    """These ended in a traceback from inside the start-up (exit 3), the setting never named."""
    import socket

    state, sandbox, double = world
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    (tmp_path / "notes.txt").write_text("not a database, but long enough to be read as one's header " * 20)
    env = {"no folder": {"MEETOPS_DB": str(tmp_path / "nowhere" / "meetops.db")},
           "a folder": {"MEETOPS_DB": str(tmp_path)},
           "not SQLite": {"MEETOPS_DB": str(tmp_path / "notes.txt")},
           "no such host": {"HOST": "example.invalid"},
           "busy port": {"PORT": str(port)}}[case]
    serve_env(monkeypatch, state, sandbox, double, **env)
    try:
        line = fails(["serve", "--no-check"], capsys)
    finally:
        busy.close()
    assert named.format(tmp=tmp_path, port=port) in line
    assert not no_uvicorn


def test_registering_an_address_that_is_not_the_providers_endpoint_says_so(monkeypatch, world, capsys):
    state, sandbox, _ = world
    provider_env(monkeypatch, state, sandbox)
    main(["webhooks", "register", "--url", "https://bot.example.com/webhooks/eyeson"])
    assert "meetops receives these webhooks at /webhooks/digitalsamba" in capsys.readouterr().err
    main(["webhooks", "register", "--url", "https://bot.example.com/webhooks/digitalsamba"])
    assert "Note:" not in capsys.readouterr().err


@pytest.mark.parametrize("argv, said", [
    (["--port", "99999"], "meetops sandbox: 99999 is not a port (0 to 65535); choose another --port."),
    (["--host", "999.9.9.9", "--port", "8611"], "is not an address of this machine"),
    (["--provider", "eyeson", "--port", "{busy}"], "cannot listen on 127.0.0.1:{busy} (Address already in use); "
                                                   "choose another --port."),
])
def test_sandbox_names_the_flag_it_cannot_use(argv, said, capsys):
    """These were tracebacks (OverflowError, RuntimeError), or blamed the port for a bad host."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        line = fails(["sandbox", *[a.format(busy=port) for a in argv]], capsys)
    assert said.format(busy=port) in line


def test_every_wrong_setting_of_every_model_is_named_in_one_message(monkeypatch, capsys):
    """PORT, then DS_TIMEOUT_SECONDS, then EYESON_TIMEOUT_SECONDS came out one per attempt."""
    use(monkeypatch, PORT="abc", DS_TIMEOUT_SECONDS="abc", DS_DEVELOPER_KEY="x", EYESON_TIMEOUT_SECONDS="-1",
        EYESON_API_KEY="k")
    with pytest.raises(SystemExit) as exit_:
        main(["serve"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    for setting in ("PORT:", "DS_TIMEOUT_SECONDS:", "EYESON_TIMEOUT_SECONDS:"):
        assert f"  - {setting}" in err
    assert err.count("meetops cannot start") == 1
