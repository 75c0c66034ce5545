"""The `/meet` slash command: acknowledge at once, then route to the subcommand."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp

from bot.acks import ack_written
from bot.providers.base import CORE, LABELS, Capabilities, Capability
from bot.text import mrkdwn_escape
from commands.router import Invocation, Router, Subcommand, slack_plain, tokenize

COMMAND = "/meet"


def help_text(router: Router, *, unknown: str | None = None, providers: list[ProviderLine] = ()) -> str:
    lead = f"I don't know `{mrkdwn_escape(unknown[:40])}`. " if unknown else ""
    text = lead + "Here is what `/meet` can do:\n" + "\n".join(f"• {line}" for line in router.usage_lines())
    if providers and not unknown:
        text += "\n\n*What each meeting platform here can do*\n" + "\n".join(provider_help(p) for p in providers)
    return text


@dataclass(frozen=True)
class ProviderLine:
    title: str
    capabilities: Capabilities
    default: bool = False
    emulated: bool = False


def provider_help(line: ProviderLine) -> str:
    """One provider's line: what it can and can't do, from its declared capabilities."""
    optional = [c for c in Capability if c not in CORE]
    can = [LABELS[c] for c in optional if c in line.capabilities]
    cannot = [LABELS[c] for c in optional if c not in line.capabilities]
    notes = ", ".join(n for n, on in (("default", line.default), ("simulated", line.emulated)) if on)
    head = f"• *{line.title}*" + (f" ({notes})" if notes else "")
    return (head + f": :white_check_mark: {', '.join(can) or 'rooms and personal links'}"
            + (f"; :heavy_minus_sign: not {', '.join(cannot)}" if cannot else ""))


def provider_lines(services) -> list[ProviderLine]:
    providers = services.providers
    return [ProviderLine(p.title, p.capabilities, name == providers.default_name, name in providers.emulated)
            for name, p in providers.providers.items()]


def register(app: AsyncApp, router: Router) -> None:
    async def show_help(inv: Invocation) -> None:
        await inv.reply(help_text(router, providers=provider_lines(inv.services)))

    router.add(Subcommand("help", show_help, "/meet help", "this list"))


def register_command(app: AsyncApp, router: Router) -> None:
    """The `/meet` listener itself; `commands.register` adds it before every other listener."""

    @app.command(COMMAND)
    async def meet(ack, command, context, services, client, respond) -> None:
        # Acknowledge before anything that could wait on Slack, the provider or the disk, and start
        # that work only once the ack has left, so it never delays another command's ack.
        await ack()
        await ack_written(context)
        await _run(router, command, services, client, respond)


async def _run(router: Router, command: dict, services, client, respond) -> None:
    inv = Invocation(
        services=services,
        client=client,
        respond=respond,
        team_id=command["team_id"],
        user_id=command["user_id"],
        channel_id=command["channel_id"],
        channel_name=command.get("channel_name") or "",
        trigger_id=command.get("trigger_id") or "",
        args=[],
        text=slack_plain(command.get("text") or ""),
    )
    words = tokenize(command.get("text") or "")
    sub, inv.args = router.route(words)
    if sub is None:
        await inv.reply(help_text(router, unknown=words[0]))
        return
    await sub.handler(inv)
