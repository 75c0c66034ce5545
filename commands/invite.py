"""`/meet invite <room> @ann @bob` (and `/meet new <name> @ann @bob`): each named person gets, by DM, their
own personal link to the room and who invited them; the inviter gets one private summary.

The links come from the room's provider in one go (`Provider.invite`: one bulk call where the platform
has one, else one personal link per person); one person's failure never fails the others. People who
can't be invited (bots, the inviter, deactivated people, people outside the workspace) are reported,
not sent to the provider.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.blocks import invitation_blocks
from bot.errors import BadInput, MeetopsError, NotAllowed
from bot.meetings import as_provider_room, check_still_exists, is_moderator, person, require_meeting_ahead
from bot.messaging import once_at_a_time, slack_error
from bot.providers.base import Capability, Invited
from bot.services import Services
from bot.text import mrkdwn_escape, plural
from commands.router import Invocation, Mention, Router, Subcommand
from storage import grants, rooms
from storage.rooms import RoomRecord

log = logging.getLogger(__name__)

MAX_INVITES = 50
PARALLEL_SLACK_CALLS = 8  # users.info / DMs at a time: well inside Slack's per-method limits


@dataclass
class InviteReport:
    invited: list[str] = field(default_factory=list)   # user ids
    already: list[str] = field(default_factory=list)
    unreachable: list[tuple[str, str]] = field(default_factory=list)  # (user id, why, in words)

    def text(self, room: RoomRecord) -> str:
        name = mrkdwn_escape(room.name)
        lines = []
        if self.invited:
            lines.append(f"*Invited to {name}* ({len(self.invited)}): " + ", ".join(f"<@{u}>" for u in self.invited)
                         + ". Each got their own link by DM.")
        if self.already:
            lines.append(f"*Already in* ({len(self.already)}): " + ", ".join(f"<@{u}>" for u in self.already)
                         + ". They have a current link; *Join* gives them a fresh one.")
        if self.unreachable:
            lines.append(f"*Could not be reached* ({len(self.unreachable)}):\n"
                         + "\n".join(f"• <@{u}>: {why}" for u, why in self.unreachable))
        return "\n".join(lines) or "Nobody to invite."


def mentioned(words: list[str]) -> list[str]:
    """The user ids of the people named, in order, each once."""
    seen: dict[str, None] = {}
    for word in words:
        if isinstance(word, Mention):
            seen.setdefault(word.user_id, None)
    return list(seen)


def too_many(count: int) -> BadInput:
    return BadInput(f"You named {count} people; I invite at most {MAX_INVITES} at a time, so I invited nobody. "
                    f"Split them into groups of {MAX_INVITES} or fewer.")


async def _reachable(services: Services, inviter: str, team_id: str, user_ids: list[str],
                     report: InviteReport) -> list[str]:
    """Those who can get a DM from the bot; the others go to the report with the reason."""
    limit = asyncio.Semaphore(PARALLEL_SLACK_CALLS)

    async def look(user_id: str):
        async with limit:
            return await services.people.get(user_id)

    profiles = await asyncio.gather(*(look(u) for u in user_ids))
    keep = []
    for user_id, profile in zip(user_ids, profiles):
        if user_id == inviter:
            report.unreachable.append((user_id, "that's you; *Join* on the room message gets you your link"))
        elif not profile.found:
            report.unreachable.append((user_id, "I can't find them in this workspace"))
        elif profile.is_bot:
            report.unreachable.append((user_id, "is a bot, and bots don't join meetings"))
        elif profile.deleted:
            report.unreachable.append((user_id, "their account is deactivated"))
        elif profile.team_id and team_id and profile.team_id != team_id:
            report.unreachable.append((user_id, "is from another workspace; ask them to join from the room's channel"))
        else:
            keep.append(user_id)
    return keep


async def _deliver(services: Services, room: RoomRecord, inviter: str, result: Invited, role: str,
                   report: InviteReport) -> None:
    """The person's own link, by DM (never anywhere else)."""
    user_id = result.person.slack_user_id
    grant = result.grant
    assert grant is not None
    if grant.handle:
        grants.remember(services.db, room.id, user_id, dict(grant.handle), grant.expires_at)
    try:
        dm = await services.slack.conversations_open(users=user_id)
        await services.slack.chat_postMessage(
            channel=dm["channel"]["id"], text=f"<@{inviter}> invited you to {mrkdwn_escape(room.name)}: your personal link",
            blocks=invitation_blocks(room, grant, role, inviter, services.clock()))
    except SlackApiError as exc:
        log.info("could not DM an invitation to %s: %s", user_id, slack_error(exc))
        report.unreachable.append((user_id, "Slack didn't let me send them a DM"))
        return
    rooms.audit(services.db, team_id=room.team_id, user_id=inviter, action="room.invite", room_id=room.id,
                invitee=user_id, role=role)
    report.invited.append(user_id)


async def invite_people(services: Services, room: RoomRecord, *, team_id: str, inviter: str,
                        user_ids: list[str]) -> InviteReport:
    """Invite these people to the room; never raises for one person's trouble."""
    if len(user_ids) > MAX_INVITES:
        raise too_many(len(user_ids))
    if room.private and not is_moderator(services, room, inviter):
        raise NotAllowed(f"*{mrkdwn_escape(room.name)}* is private: only its moderators can invite people to it.")
    provider = services.provider(room)
    provider.require(Capability.PERSONAL_JOIN)
    report = InviteReport()
    now = services.clock()
    candidates = await _reachable(services, inviter, team_id, user_ids, report)
    fresh = []
    for user_id in candidates:
        if grants.previous(services.db, room.id, user_id, now) is not None:
            report.already.append(user_id)
        else:
            fresh.append(user_id)
    if not fresh:
        return report
    room = await check_still_exists(services, room)
    people = [await person(services, room, user_id, team_id) for user_id in fresh]
    results = await provider.invite(as_provider_room(room), people, lifetime=services.settings.link_lifetime)
    limit = asyncio.Semaphore(PARALLEL_SLACK_CALLS)

    async def one(result: Invited) -> None:
        if result.grant is None:
            report.unreachable.append((result.person.slack_user_id, result.problem or "the meeting platform said no"))
            return
        async with limit:
            await _deliver(services, room, inviter, result, str(result.person.role), report)

    await asyncio.gather(*(one(r) for r in results))
    order = {u: n for n, u in enumerate(user_ids)}
    report.invited.sort(key=order.get)
    report.unreachable.sort(key=lambda pair: order.get(pair[0], 0))
    return report


async def invite_and_report(inv: Invocation, room: RoomRecord, user_ids: list[str]) -> None:
    async with once_at_a_time(inv.services, f"invite:{room.id}:{inv.user_id}") as first:
        if not first:
            await inv.reply("I'm still sending your last invitations for this room; you'll get a summary.")
            return
        report = await invite_people(inv.services, room, team_id=inv.team_id, inviter=inv.user_id,
                                     user_ids=user_ids)
    await inv.reply(report.text(room))


def not_people(words: list[str]) -> list[str]:
    """Words that look like a person but are not one Slack recognised (`@here`, a user group, a name typed
    without picking it from Slack's list)."""
    return [w for w in words if w.startswith("@") and not isinstance(w, Mention)]


async def invite_command(inv: Invocation) -> None:
    people = mentioned(inv.args)
    odd = not_people(inv.args)
    if odd:
        raise BadInput(f"I can only invite people, each picked from Slack's list as you type their name; "
                       f"`{mrkdwn_escape(odd[0][:40])}` isn't one (groups and @here aren't either).")
    words = [w for w in inv.args if not isinstance(w, Mention)]
    if not words:
        raise BadInput("To which room? For example `/meet invite standup @ann @bob`.")
    if not people:
        # `/meet invite standup grace`: a name typed without @ is plain text, part of the room's name for all we know.
        try:  # the example names their room, if the words are one (else they may hold a name typed without @)
            example = (await inv.room(" ".join(words))).friendly_url
        except MeetopsError:
            example = words[0][:40]
        raise BadInput("Who should I invite? Name each person with @ and pick them from Slack's list as you type, "
                       f"for example `/meet invite {mrkdwn_escape(example)} @ann @bob`.")
    if len(people) > MAX_INVITES:
        raise too_many(len(people))
    room = await inv.room(" ".join(words))
    require_meeting_ahead(inv.services, room)
    await invite_and_report(inv, room, people)


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("invite", invite_command, "/meet invite <room> @person …",
                          f"send each person their own link to the room by DM (up to {MAX_INVITES})"))
