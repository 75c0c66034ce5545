"""`meetops serve | console | sandbox | webhooks register`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure_logging, secret_filter

log = logging.getLogger("meetops")

# Every event commands.webhooks handles (a test keeps the two lists the same).


def _settings() -> Settings:
    settings = load_settings()
    secret_filter.add(*(s.get_secret_value() for s in (
        settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token) if s is not None))
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


def _provider_settings(name: str):
    """A provider's own settings, its secrets masked in every log line from now on."""
    from pydantic import SecretStr

    from bot.providers import registry
    from bot.runtime import provider_settings

    values = provider_settings(registry.load(name))
    secret_filter.add(*(v.get_secret_value() for v in values.__dict__.values() if isinstance(v, SecretStr)))
    return values


async def check_slack_token(settings: Settings) -> None:
    """Ask Slack who the token is, once, before serving: a wrong token is a set-up error, said now.

    Slack out of reach is not (it may be a passing outage): that is only warned about.
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
        return
    log.info("Slack: connected to %s as @%s", identity.get("team"), identity.get("user"))


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from bot.runtime import Runtime
    from bot.server import ServingServer, create_asgi_app

    settings = _settings()
    settings.require_serving(_provider_problems())
    asyncio.run(check_slack_token(settings))
    runtime = Runtime(settings)
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
        if any(p.webhook_adapter() is not None for p in runtime.services.providers.providers.values()):
            # Providers still need an HTTP endpoint for their webhooks: bound before anything runs (a busy
            # port ends the process here, before the scheduler starts).
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
        await runtime.serving("Slack over Socket Mode")
        await asyncio.gather(*tasks, asyncio.Event().wait())
    finally:
        await handler.close_async()
        await runtime.stop()


def console(args: argparse.Namespace) -> None:
    from bot.console import run_console

    sys.exit(asyncio.run(run_console(args.provider)))


def sandbox(args: argparse.Namespace) -> None:
    from bot.providers import registry

    plugin = registry.load(args.provider)
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


def register_webhook(args: argparse.Namespace) -> None:
    from bot.providers import registry
    from bot.providers.base import Capability

    _settings()
    plugin = registry.load(args.provider)
    values = _provider_settings(plugin.name)
    if Capability.WEBHOOKS not in plugin.capabilities:
        raise ConfigError(f"{plugin.title} sends no webhooks: {plugin.capabilities.reason(Capability.WEBHOOKS)}")
    if not plugin.configured(values):
        raise ConfigError(f"`webhooks register` talks to the real {plugin.title}: set its credentials first. "
                          f"{plugin.setup_help}")
    problems = getattr(values, "problems", lambda: [])()
    if problems:
        raise ConfigError(f"`webhooks register` needs " + "; ".join(problems))

    async def register():
        provider = plugin.build(values)
        try:
            return await provider.register_webhook(args.url)
        finally:
            await provider.aclose()

    registration = asyncio.run(register())
    print(f"Registered {plugin.title} webhook {registration.id} -> {args.url}")
    if registration.note:
        print(registration.note)
    if registration.secret:
        print("Set this in the bot's environment (it is shown only now):")
        print(f"{registration.secret_setting}={registration.secret}" if registration.secret_setting
              else registration.secret)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="meetops", description="Run Digital Samba meetings from Slack.")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="serve Slack (Socket Mode with SLACK_APP_TOKEN, else HTTP)").set_defaults(func=serve)

    p = sub.add_parser("console", help="try meetops in the terminal: no Slack, no provider account")
    p.add_argument("--provider", default=None, help="the provider whose emulator to meet on (default: digitalsamba)")
    p.set_defaults(func=console)

    p = sub.add_parser("sandbox", help="serve a provider's emulator over HTTP")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8600)
    p.add_argument("--provider", default="digitalsamba", help="whose emulator (default: digitalsamba)")
    p.set_defaults(func=sandbox)

    p = sub.add_parser("webhooks", help="manage Digital Samba webhooks")
    webhooks = p.add_subparsers(dest="webhooks_command", required=True)
    p = webhooks.add_parser("register", help="register this bot's webhook endpoint with Digital Samba")
    p.add_argument("--url", required=True, help="public URL of POST /webhooks/<provider>")
    p.add_argument("--provider", default="digitalsamba", help="which provider (default: digitalsamba)")
    p.set_defaults(func=register_webhook)

    args = parser.parse_args(argv)
    configure_logging("WARNING" if args.command == "console" and args.log_level == "INFO" else args.log_level)
    try:
        args.func(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        pass
