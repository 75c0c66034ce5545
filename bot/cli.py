"""`meetops serve | console | sandbox | webhooks register|list|delete`.

Every failure a person can cause (a setting, a flag, a refused key, an unreachable
provider) ends in one line on stderr saying what to do, and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

from bot.config import ConfigError, Settings, load_settings, settings_help, settings_models
from bot.errors import MeetopsError
from bot.logs import configure_logging, secret_filter
from bot.providers.http import ProbeInconclusive

log = logging.getLogger("meetops")


class CliError(Exception):
    """A command-line mistake or refusal, worded as what to do; printed as one line, exit code 2."""


def _settings() -> Settings:
    settings = load_settings()
    secret_filter.add(*(s.get_secret_value() for s in (
        settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token) if s is not None))
    return settings


def _all_settings() -> Settings:
    """meetops' settings and every provider's, read before anything else: every value that is wrong, in any
    of them, named in one message (not one per attempt)."""
    from bot.providers import registry

    problems, settings = [], None
    try:
        settings = _settings()
    except ConfigError as exc:
        problems += exc.problems or [str(exc)]
    for name in registry.DRIVERS:
        try:
            _provider_settings(name)
        except ConfigError as exc:
            problems += exc.problems or [str(exc)]
    if problems:
        raise ConfigError("meetops cannot start; invalid settings:\n  - " + "\n  - ".join(problems), problems)
    return settings


def _provider_problems() -> list[str]:
    """What each configured provider still lacks (its own settings, its own env prefix)."""
    from bot.providers import registry

    problems = []
    for name in registry.DRIVERS:
        values = _provider_settings(name)
        if registry.load(name).configured(values):
            problems.extend(getattr(values, "problems", lambda: [])())
    return problems


def _require_a_real_default(settings: Settings) -> None:
    """Serving for real, new rooms must not land on an emulator (local links nobody else can open) while
    real platforms are set up: MEETOPS_PROVIDER naming one without credentials, or unset with several."""
    from bot.providers import registry
    from bot.runtime import choose_default

    configured = _configured_providers()
    if not configured:
        return  # nothing set up at all: sandbox mode, said loudly at start-up
    default = choose_default(settings, configured)
    if default in configured:
        return
    names = " or ".join(configured)
    titles = " and ".join(registry.load(name).title for name in configured)
    if settings.meetops_provider:
        raise ConfigError(f"meetops cannot start: MEETOPS_PROVIDER is {default}, but "
                          f"{registry.load(default).title} has no credentials here, so new rooms would go to a "
                          f"local emulator. Give its credentials, or set MEETOPS_PROVIDER to {names}.")
    raise ConfigError(f"meetops cannot start: {titles} are set up, so new rooms need one of them: set "
                      f"MEETOPS_PROVIDER to {names} (without it they would go to a local {registry.load(default).title} "
                      "emulator).")


def _check_database(settings: Settings) -> None:
    """MEETOPS_DB must be a file meetops can write: said now, naming the setting, not as a start-up traceback."""
    import sqlite3

    path = settings.meetops_db
    try:
        conn = sqlite3.connect(path, timeout=5)
        try:
            conn.execute("BEGIN IMMEDIATE")  # takes the write lock: a read-only file or folder fails here
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
            raise ConfigError(f"meetops cannot start: MEETOPS_DB: {path!r} is not an SQLite database (another "
                              "program's file?). Point it at meetops' own database, or at a new file name.") from None
        raise ConfigError(f"meetops cannot start: MEETOPS_DB: cannot open {path!r} for writing ({exc}). Point it "
                          "at a file in a folder that exists and that meetops may write to.") from None


def _cannot_listen(host: str, port: int) -> tuple[str, str] | None:
    """Why this machine can't listen on host:port, as (which of the two is at fault, the reason); None if it can."""
    import socket

    if not 0 <= port <= 65535:
        return "port", f"{port} is not a port (0 to 65535)"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        return "host", f"{host!r} is not an address of this machine ({exc})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            return "port", f"cannot listen on {host}:{port} ({exc.strerror or exc})"
    return None


def _check_address(settings: Settings) -> None:
    """HOST and PORT must be an address this machine can listen on, and free: said now, naming the setting."""
    if problem := _cannot_listen(settings.host, settings.port):
        which, reason = problem
        advice = ("Use 0.0.0.0 (every interface) or 127.0.0.1." if which == "host"
                  else "Choose another PORT, or stop what uses it.")
        raise ConfigError(f"meetops cannot start: {which.upper()}: {reason}. {advice}")


def _provider_settings(name: str):
    """A provider's own settings, its secrets masked in every log line from now on."""
    from pydantic import SecretStr

    from bot.providers import registry
    from bot.runtime import provider_settings

    values = provider_settings(registry.load(name))
    secret_filter.add(*(v.get_secret_value() for v in values.__dict__.values() if isinstance(v, SecretStr)))
    return values


async def check_slack_token(settings: Settings) -> dict | None:
    """Ask Slack who the token is, once, before serving: a wrong token is a set-up error, said now.

    Slack out of reach is not (it may be a passing outage): that is only warned about. Returns the
    `auth.test` answer, which the app reuses to authorize requests (bot.slack_auth).
    """
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url,
                            timeout=10)
    try:
        identity = await client.auth_test()
    except SlackApiError as exc:
        raise ConfigError(f"meetops cannot start: Slack refused SLACK_BOT_TOKEN ({exc.response.get('error')}). "
                          "Copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page.") from None
    except Exception as exc:
        log.warning("could not reach Slack at %s to check the bot token (%s); starting anyway",
                    settings.slack_api_url, type(exc).__name__)
        return None
    log.info("Slack: connected to %s as @%s", identity.get("team"), identity.get("user"))
    return identity.data


# apps.connections.open errors that mean the app token itself is wrong, and what to do about each.
APP_TOKEN_ERRORS = {
    "invalid_auth": "Slack does not know this token",
    "not_authed": "Slack does not know this token",
    "account_inactive": "the token belongs to a deleted app or workspace",
    "token_revoked": "the token was revoked",
    "not_allowed_token_type": "it is not an app-level token (a bot token, xoxb-…, was given?)",
    "missing_scope": "the token lacks the connections:write scope",
    "socket_mode_not_enabled": "Socket Mode is off for this app (Settings → Socket Mode)",
}


async def check_app_token(settings: Settings) -> None:
    """Socket Mode: ask Slack for a connection URL once, before serving, so a wrong SLACK_APP_TOKEN is a set-up
    error said now (instead of a reconnect traceback every 10 s forever). Slack out of reach is only warned about."""
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    token = settings.slack_app_token.get_secret_value()
    client = AsyncWebClient(base_url=settings.slack_api_url, timeout=10)
    try:
        await client.apps_connections_open(app_token=token)
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        why = APP_TOKEN_ERRORS.get(error, "Slack refused it")
        raise ConfigError(f"meetops cannot start: Slack refused SLACK_APP_TOKEN ({error}: {why}). Generate an "
                          "app-level token with the connections:write scope under Basic Information → App-Level "
                          "Tokens (xapp-…).") from None
    except Exception as exc:
        log.warning("could not reach Slack at %s to check the app token (%s); starting anyway",
                    settings.slack_api_url, type(exc).__name__)


async def check_providers() -> None:
    """Each provider with real credentials gets its start-up probe (an emulator needs none): a wrong URL or key
    stops the bot now, with the setting named."""
    from bot.providers import registry

    for name in registry.DRIVERS:
        plugin = registry.load(name)
        values = _provider_settings(name)
        if not plugin.configured(values):
            continue
        provider = plugin.build(values)
        try:
            await provider.check()
        except ConfigError as exc:
            raise ConfigError(f"meetops cannot start: {exc} (`meetops serve --no-check` skips this check, "
                              "e.g. offline.)") from None
        except ProbeInconclusive as exc:
            log.warning("%s Starting anyway; commands on its rooms say so until it is back.", exc)
            continue
        finally:
            await provider.aclose()
        log.info("%s: the API answered and accepted the credentials", plugin.title)


async def startup_checks(settings: Settings) -> dict | None:
    """Everything `serve` checks over the network before it starts, each failure naming its setting.
    Returns Slack's `auth.test` answer, which the app reuses to authorize requests (bot.slack_auth)."""
    identity = await check_slack_token(settings)
    if settings.socket_mode:
        await check_app_token(settings)
    await check_providers()
    return identity


def warn_about_settings(settings: Settings) -> None:
    """What is valid but surely not meant: said at start-up, not discovered later."""
    for entry in settings.unknown_admins():
        log.warning("MEETOPS_ADMINS: %r is not a Slack user id (U… or W…), so it matches no one; use the member "
                    "id from the person's Slack profile (⋮ → Copy member ID)", entry)


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from bot.runtime import Runtime
    from bot.server import ServingServer, create_asgi_app

    settings = _all_settings()
    settings.require_serving(_provider_problems())
    _require_a_real_default(settings)
    _check_database(settings)
    if not settings.socket_mode:
        _check_address(settings)
    warn_about_settings(settings)
    identity = None  # without the checks, the app asks auth.test once itself (bot.slack_auth)
    if args.no_check:
        log.warning("--no-check: the Slack and provider settings are not checked at start-up")
    else:
        identity = asyncio.run(startup_checks(settings))
    runtime = Runtime(settings, slack_identity=identity)
    if settings.socket_mode:
        asyncio.run(_serve_socket_mode(runtime))
        return
    # ServingServer starts the scheduler and logs "serving" only once the port is bound.
    config = uvicorn.Config(create_asgi_app(runtime), host=settings.host, port=settings.port, log_level="info",
                            access_log=False, log_config=None)
    ServingServer(config, runtime, where=f"Slack over HTTP on http://{settings.host}:{settings.port}/slack/events").run()


async def _serve_socket_mode(runtime) -> None:
    import uvicorn
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.server import create_asgi_app

    settings = runtime.settings
    app = await runtime.start()
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    tasks = []
    try:
        providers = runtime.services.providers.providers.values()
        if any(p.webhook_adapter() is not None or p.serves_recordings_through_meetops for p in providers):
            # Providers still need an HTTP endpoint for their webhooks, and recordings meetops serves itself:
            # bound before anything runs (a busy port ends the process here, before the scheduler starts).
            config = uvicorn.Config(create_asgi_app(runtime, serve_slack=False), host=settings.host,
                                    port=settings.port, log_config=None, access_log=False)
            server = uvicorn.Server(config)
            tasks.append(asyncio.create_task(server.serve()))
            while not server.started:
                if tasks[0].done():
                    tasks[0].result()
                    return
                await asyncio.sleep(0.01)
            log.info("webhooks on http://%s:%s/webhooks/<provider>", settings.host, settings.port)
        await handler.connect_async()
        log.info("connected to Slack over Socket Mode")  # only now that it is
        await runtime.serving("Slack over Socket Mode")
        await asyncio.gather(*tasks, asyncio.Event().wait())
    finally:
        await handler.close_async()
        await runtime.stop()


def console(args: argparse.Namespace) -> None:
    from bot.console import run_console

    # The console runs the real app on these settings (with its own Slack and provider emulators): a wrong one,
    # meetops' own or a provider's (CHALK_MAX_PARTICIPANTS=abc), is the same one clean message as for `serve`,
    # not a traceback.
    _all_settings()
    sys.exit(asyncio.run(run_console(args.provider)))


def sandbox(args: argparse.Namespace) -> None:
    from bot.providers import registry

    plugin = registry.load(args.provider)
    if args.port and (problem := _cannot_listen(args.host, args.port)):
        which, reason = problem
        raise CliError(f"meetops sandbox: {reason}; choose another --{which}.")
    if plugin.name == "digitalsamba":
        from bot.sandbox import serve_sandbox

        serve_sandbox(host=args.host, port=args.port)
        return
    import time

    emulator = plugin.start_emulator(host=args.host, port=args.port) if args.port else plugin.start_emulator()
    print(f"{plugin.title} emulator: {emulator.url}")
    for name, value in emulator.client_settings().items():
        prefix = plugin.settings_model.model_config.get("env_prefix", "")
        print(f"  {prefix}{name.upper()}={value}")
    print(f"  control API: {emulator.url}/_sandbox", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()


def _webhook_provider(args: argparse.Namespace):
    """The provider named by --provider, built from its own settings, for an operator's webhooks command."""
    from bot.providers import registry
    from bot.providers.base import Capability

    settings = _settings()  # meetops' own settings are checked (and their secrets masked) as for every command
    plugin = registry.load(args.provider or _default_provider(settings))
    values = _provider_settings(plugin.name)
    command = f"meetops webhooks {args.webhooks_command}"
    if Capability.WEBHOOKS not in plugin.capabilities:
        raise CliError(f"{plugin.capabilities.reason(Capability.WEBHOOKS)} There is no webhook to "
                       f"{args.webhooks_command}.")
    if not plugin.configured(values):
        raise ConfigError(f"`{command}` talks to the real {plugin.title}, which is not configured here. "
                          f"{plugin.setup_help}")
    problems = getattr(values, "problems", lambda: [])()
    if problems:
        raise ConfigError(f"`{command}` needs " + "; ".join(problems) + ".")
    return plugin, plugin.build(values)


def _default_provider(settings: Settings) -> str:
    """The provider `serve` makes new rooms on: MEETOPS_PROVIDER, else the only one configured, else the first."""
    from bot.runtime import choose_default

    return choose_default(settings, _configured_providers())


def _configured_providers() -> list[str]:
    """The providers with credentials in the settings (the others would run on their emulator)."""
    from bot.providers import registry

    return [name for name in registry.DRIVERS if registry.load(name).configured(_provider_settings(name))]


async def _with_provider(provider, work):
    """Run `work()` after the provider's start-up probe, so a wrong URL or key is named before anything changes."""
    try:
        try:
            await provider.check()
        except ConfigError as exc:
            raise CliError(f"meetops webhooks: {exc}") from None
        except ProbeInconclusive as exc:
            raise CliError(f"meetops webhooks: {exc} Try again in a minute.") from None
        return await work()
    finally:
        await provider.aclose()


def _endpoint_url(url: str) -> str:
    parts = urlsplit(url.strip())
    try:
        parts.port  # noqa: B018 (raises on a port beyond 65535)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in url.strip():
        raise CliError(f"--url {url!r} is not a URL: give the bot's public address of POST /webhooks/<provider>, "
                       "for example --url https://bot.example.com/webhooks/digitalsamba")
    return url.strip()


def _warn_about_path(url: str, provider: str) -> None:
    """meetops takes each provider's deliveries at /webhooks/<provider>: another path is likely a mistake
    (though a proxy may rewrite it, so it is said, not refused)."""
    if not urlsplit(url).path.rstrip("/").endswith(f"/webhooks/{provider}"):
        print(f"Note: meetops receives these webhooks at /webhooks/{provider}, and {url} ends elsewhere; unless "
              "your proxy rewrites it, register that path instead.", file=sys.stderr)


def register_webhook(args: argparse.Namespace) -> None:
    url = _endpoint_url(args.url)
    plugin, provider = _webhook_provider(args)
    _warn_about_path(url, plugin.name)
    # Registering replaces the webhook meetops registered before (same address or name) instead of stacking.
    registration = asyncio.run(_with_provider(provider, lambda: provider.register_webhook(url)))
    print(f"Registered {plugin.title} webhook {registration.id} -> {registration.url}")
    if registration.note:
        print(registration.note)
    if registration.secret:
        secret_filter.add(registration.secret)
        print("Set this in the bot's environment and restart it (it is shown only now):")
        print(f"{registration.secret_setting}={registration.secret}" if registration.secret_setting
              else registration.secret)


def list_webhooks(args: argparse.Namespace) -> None:
    plugin, provider = _webhook_provider(args)
    hooks = asyncio.run(_with_provider(provider, provider.list_webhooks))
    if not hooks:
        print(f"No {plugin.title} webhooks are registered. `meetops webhooks register --provider {plugin.name} "
              f"--url https://<your host>/webhooks/{plugin.name}` registers meetops'.")
        return
    for hook in hooks:
        print(f"{hook.id}  {hook.note or '(no name)'}  {hook.url}")


def delete_webhook(args: argparse.Namespace) -> None:
    from bot.errors import ProviderNotFound

    if not args.id.strip():
        raise CliError("Which webhook? Give its id: `meetops webhooks list` shows them.")
    plugin, provider = _webhook_provider(args)

    async def delete() -> None:
        try:
            await provider.delete_webhook(args.id.strip())
        except ProviderNotFound:
            raise CliError(f"{plugin.title} has no webhook {args.id!r}; `meetops webhooks list --provider "
                           f"{plugin.name}` shows their ids.") from None

    asyncio.run(_with_provider(provider, delete))
    print(f"Deleted {plugin.title} webhook {args.id.strip()}.")


def _version() -> str:
    try:
        return version("meetops")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    from bot.providers.registry import DRIVERS

    from bot.providers import registry

    titles = [registry.load(name).title for name in DRIVERS]
    parser = argparse.ArgumentParser(prog="meetops", description="Run video meetings from Slack, on "
                                     + ", ".join(titles[:-1]) + " or " + titles[-1] + ".")
    parser.add_argument("--version", action="version", version=f"meetops {_version()}")
    levels = ["DEBUG", "INFO", "WARNING", "ERROR"]
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=levels)
    # Also after the command (`meetops webhooks list --log-level debug`), as the failure hints say.
    log_flag = argparse.ArgumentParser(add_help=False)
    log_flag.add_argument("--log-level", default=argparse.SUPPRESS, type=str.upper, choices=levels,
                          help="how much to log (default: INFO)")
    sub = _SubcommandsWith(log_flag, parser.add_subparsers(dest="command", required=True))

    p = sub.add_parser("serve", help="serve Slack (Socket Mode with SLACK_APP_TOKEN, else HTTP)",
                       description="Serve Slack: over Socket Mode when SLACK_APP_TOKEN is set, else over HTTP on\n"
                                   "HOST:PORT. Slack's tokens and each configured provider's URL and credentials\n"
                                   "are checked first.",
                       epilog=settings_help(settings_models()), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-check", action="store_true",
                   help="start without checking the Slack tokens and the providers over the network (offline starts)")
    p.set_defaults(func=serve)

    p = sub.add_parser("console", help="try meetops in the terminal: no Slack, no provider account")
    p.add_argument("--provider", default=None, type=str.lower, choices=list(DRIVERS),
                   help="the provider whose emulator to meet on (default: %s)" % next(iter(DRIVERS)))
    p.set_defaults(func=console)

    p = sub.add_parser("sandbox", help="serve a provider's emulator over HTTP")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8600)
    p.add_argument("--provider", default=next(iter(DRIVERS)), type=str.lower, choices=list(DRIVERS),
                   help="whose emulator (default: %(default)s)")
    p.set_defaults(func=sandbox)

    provider_flag = argparse.ArgumentParser(add_help=False)
    provider_flag.add_argument("--provider", default=None, type=str.lower, choices=list(DRIVERS),
                               help="the meeting provider (default: MEETOPS_PROVIDER, else the only one configured)")
    p = sub.add_parser("webhooks", help="manage the providers' webhooks")
    webhooks = _SubcommandsWith(log_flag, p.add_subparsers(dest="webhooks_command", required=True))
    p = webhooks.add_parser("register", parents=[provider_flag],
                            help="register this bot's webhook endpoint with the provider, replacing the one meetops "
                                 "registered before")
    p.add_argument("--url", required=True, help="public URL of POST /webhooks/<provider>")
    p.set_defaults(func=register_webhook)
    webhooks.add_parser("list", parents=[provider_flag], help="the provider's webhooks").set_defaults(func=list_webhooks)
    p = webhooks.add_parser("delete", parents=[provider_flag], help="delete a webhook by its id (see `webhooks list`)")
    p.add_argument("id", help="the webhook's id")
    p.set_defaults(func=delete_webhook)
    return parser


class _SubcommandsWith:
    """Subparsers that all take the given common flags (`--log-level` after the command as well as before)."""

    def __init__(self, common: argparse.ArgumentParser, subparsers):
        self._common, self._subparsers = common, subparsers

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        kwargs["parents"] = [*kwargs.get("parents", []), self._common]
        return self._subparsers.add_parser(name, **kwargs)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    configure_logging("WARNING" if args.command == "console" and args.log_level == "INFO" else args.log_level)
    try:
        args.func(args)
    except (ConfigError, CliError) as exc:
        _fail(str(exc))
    except MeetopsError as exc:  # the provider refused or failed an operator's command
        _fail(f"meetops {args.command}: {exc.user_message}")
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        if args.command != "webhooks":
            raise  # a crash while serving keeps its traceback for whoever reads the log
        log.debug("webhooks command failed", exc_info=True)
        _fail(f"meetops webhooks failed unexpectedly ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
              "run it again with --log-level DEBUG for the details.")


def _fail(message: str) -> None:
    print(secret_filter.redact(message), file=sys.stderr)
    sys.exit(2)
