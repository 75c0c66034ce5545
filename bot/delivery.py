"""Posts that must go out once, across crashes and Slack faults: marked with Slack message metadata, and
looked for before they are posted again.

A post whose answer never came (the process died, the connection dropped, Slack answered 5xx) may or may
not be in the channel. Every such post carries `metadata` naming what it is (`event_type`) and which
thing (`event_payload`); before posting it again, meetops reads the thread (`conversations.replies`) or
the channel's newest messages (`conversations.history`) with `include_all_metadata` and posts only when
it is not there.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.services import Services

log = logging.getLogger(__name__)

SUMMARY_EVENT = "meetops_summary"
ROOM_EVENT = "meetops_room"
DIGEST_EVENT = "meetops_digest"
HISTORY_PAGES = 5  # a thread longer than 5 × 200 replies is not searched further
RECENT_MESSAGES = 50  # a room message owed is among the channel's newest


class CannotLook(Exception):
    """The channel can't be read: `later` when that may pass (rate limited, Slack unreachable), else for
    good (not a member, no scope for a DM)."""

    def __init__(self, reason: str, *, later: bool):
        super().__init__(reason)
        self.later = later


def metadata(event_type: str, **payload: Any) -> dict:
    return {"event_type": event_type, "event_payload": payload}


def not_sent(exc: BaseException) -> bool:
    """True when Slack answered and refused (the post is certainly not in the channel): an `ok: false`
    answer or a 429. False for 5xx answers, timeouts and dropped connections: it may have gone out."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200)
        return status < 500
    return False


def transient(exc: BaseException) -> bool:
    """Worth trying again later: rate limited, Slack having an outage, or out of reach."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200)
        error = exc.response.get("error") if hasattr(exc.response, "get") else None
        return status == 429 or status >= 500 or error in {"ratelimited", "internal_error", "fatal_error",
                                                          "service_unavailable", "request_timeout"}
    return isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError))


async def find_marked(services: Services, channel: str, *, thread_ts: str | None, event_type: str,
                      match: Callable[[dict], bool]) -> list[dict]:
    """Messages of the bot's in the thread (or, with no thread, among the channel's newest) whose metadata
    is `event_type` and whose payload satisfies `match`. Raises CannotLook when the channel can't be read."""
    found: list[dict] = []
    try:
        if thread_ts:
            cursor = None
            for _ in range(HISTORY_PAGES):
                page = await services.slack.conversations_replies(channel=channel, ts=thread_ts, limit=200,
                                                                  include_all_metadata=True, cursor=cursor)
                found.extend(_matching(page.get("messages") or [], event_type, match))
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        else:
            page = await services.slack.conversations_history(channel=channel, limit=RECENT_MESSAGES,
                                                              include_all_metadata=True)
            found.extend(_matching(page.get("messages") or [], event_type, match))
    except SlackApiError as exc:
        raise CannotLook(exc.response.get("error") or f"HTTP {exc.response.status_code}",
                         later=transient(exc)) from None
    except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
        raise CannotLook(type(exc).__name__, later=True) from None
    return found


def _matching(messages: list[dict], event_type: str, match: Callable[[dict], bool]) -> list[dict]:
    out = []
    for message in messages:
        meta = message.get("metadata") if isinstance(message, dict) else None
        if not isinstance(meta, dict) or meta.get("event_type") != event_type:
            continue
        payload = meta.get("event_payload")
        if isinstance(payload, dict) and match(payload):
            out.append(message)
    return out
