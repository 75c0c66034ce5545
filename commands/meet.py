"""The `/meet` slash command: acknowledge at once, then route to the subcommand."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.text import mrkdwn_escape
from commands.router import Invocation, Router, Subcommand, slack_plain, tokenize

COMMAND = "/meet"


def help_text(router: Router, *, unknown: str | None = None) -> str:
    lead = f"I don't know `{mrkdwn_escape(unknown[:40])}`. " if unknown else ""
    return lead + "Here is what `/meet` can do:\n" + "\n".join(f"• {line}" for line in router.usage_lines())


def register(app: AsyncApp, router: Router) -> None:
    async def show_help(inv: Invocation) -> None:
        await inv.reply(help_text(router))

    router.add(Subcommand("help", show_help, "/meet help", "this list"))

    @app.command(COMMAND)
    async def meet(ack, command, services, client, respond) -> None:
        # Acknowledge before anything that could wait on Slack, the provider or the disk.
        await ack()
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
