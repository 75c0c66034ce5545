"""Getting a message to exactly one person, whatever the channel allows."""

from __future__ import annotations

import contextlib
import logging
from typing import AsyncIterator

from slack_sdk.errors import SlackApiError

from bot.services import Services

log = logging.getLogger(__name__)


# Slack errors that mean "the bot is not in that channel": inviting it fixes them.
NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found", "is_archived", "user_not_in_channel"})


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code, or the HTTP status when Slack answered without one (an outage)."""
    return exc.response.get("error") or f"HTTP {exc.response.status_code}"


def cannot_post(channel_id: str, exc: SlackApiError) -> str:
    """Why a post to a channel failed, and what to do about it."""
    error = slack_error(exc)
    if error in NOT_A_MEMBER:
        return f"I can't post in <#{channel_id}> ({error}). Invite me there with `/invite @meetops`, then try again."
    return f"Slack didn't take my message in <#{channel_id}> ({error}). Please try again in a minute."


async def send_private(
    services: Services,
    *,
    user_id: str,
    channel_id: str | None,
    text: str,
    blocks: list[dict] | None = None,
    respond=None,
) -> str:
    """Show `text` to `user_id` only: the interaction's response_url, else an ephemeral, else a DM.

    Returns how it went out ("response_url", "ephemeral" or "dm"). A response_url
    expires and an ephemeral needs the bot in the channel, hence the fallbacks.
    """
    if respond is not None and getattr(respond, "response_url", None):
        try:
            response = await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
            if 200 <= response.status_code < 300:
                return "response_url"
            log.info("response_url answered %s; falling back to chat.postEphemeral", response.status_code)
        except Exception as exc:  # network failure to Slack: fall through to the Web API
            log.info("response_url failed (%s); falling back to chat.postEphemeral", type(exc).__name__)
    if channel_id and not channel_id.startswith("D"):
        try:
            await services.slack.chat_postEphemeral(channel=channel_id, user=user_id, text=text, blocks=blocks)
            return "ephemeral"
        except SlackApiError as exc:
            log.info("chat.postEphemeral failed (%s); sending a DM instead", slack_error(exc))
    dm = await services.slack.conversations_open(users=user_id)
    await services.slack.chat_postMessage(channel=dm["channel"]["id"], text=text, blocks=blocks)
    return "dm"


@contextlib.asynccontextmanager
async def once_at_a_time(services: Services, key: str) -> AsyncIterator[bool]:
    """Yields False when the same action on the same thing is already being handled (a double click)."""
    if key in services.in_flight:
        yield False
        return
    services.in_flight.add(key)
    try:
        yield True
    finally:
        services.in_flight.discard(key)
