"""Polls that run in Slack, for rooms whose provider has no poll API: vote buttons on the poll message,
votes in SQLite (one per person per option), results redrawn in place, closed by the asker or a moderator."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.errors import Unavailable
from bot.services import Services
from commands.router import Invocation, Router
from storage.rooms import RoomRecord


async def ask(services: Services, room: RoomRecord, draft, *, team_id: str, user_id: str, channel_id: str | None) -> str:
    raise Unavailable("Polls in Slack are coming: this room's provider has no poll API.")


async def list_in_room(inv: Invocation, room: RoomRecord, known: dict) -> None:
    raise Unavailable("Polls in Slack are coming: this room's provider has no poll API.")


def register(app: AsyncApp, router: Router) -> None:
    """Vote and Close buttons (none yet)."""
