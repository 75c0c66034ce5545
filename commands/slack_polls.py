"""Polls that run in Slack, for rooms whose provider has no poll API: vote buttons on the poll message,
votes in SQLite (one per person per option), results redrawn in place, closed by the asker or a moderator.

Anonymous polls store who voted (so each person votes once and can change their mind) but never show it:
not in the message, not in `/meet polls`, not in any reply except the voter's own private confirmation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import ids
from bot.errors import BadInput, MeetopsError, NotAllowed
from bot.interactions import open_modal, read_metadata, submitted_values, user_and_team
from bot.meetings import check_still_exists, is_moderator
from bot.messaging import cannot_post, once_at_a_time, send_private, slack_error
from bot.names import clean
from bot.poll_blocks import MAX_OPTION, MAX_VOTER_NAMES, TYPE_LABELS, PollDraft, answer_modal, slack_poll_blocks, slack_poll_text
from bot.providers.base import OptionResult, PollResults, PollType
from bot.services import Services
from bot.text import mrkdwn_escape, plural
from commands.router import Invocation, Router
from storage import polls, rooms
from storage.polls import Outcome, PollRecord
from storage.rooms import RoomRecord

log = logging.getLogger(__name__)

# Two clicks of one person on one option this close together are one double click, counted once.
DOUBLE_CLICK = timedelta(seconds=1)

GONE = ("This poll no longer exists, so there is nothing to vote on. `/meet polls &lt;room&gt;` lists the room's "
        "polls.")
CLOSED = "This poll is closed: it takes no more votes. Its final results are in its message."


# -- asking --------------------------------------------------------------------------------


async def post_in_room_thread(services: Services, room: RoomRecord, channel_id: str | None, *, text: str,
                              blocks: list[dict], created: str, listing: str) -> tuple[dict, bool]:
    """Post a poll in the thread of the room message when there is one, else where the person asked.
    Returns Slack's answer and whether it went into the thread. `created` and `listing` word a failure."""
    channel, thread = (room.message_channel, room.message_ts) if room.message_ts else (channel_id, None)
    try:
        posted = await services.slack.chat_postMessage(channel=channel, thread_ts=thread, text=text, blocks=blocks)
    except SlackApiError as exc:
        raise MeetopsError(f"{created}, but: {cannot_post(channel, exc)} Meanwhile `/meet polls "
                           f"{room.friendly_url}` {listing}.") from None
    return posted, bool(thread)


async def ask(services: Services, room: RoomRecord, draft: PollDraft, *, team_id: str, user_id: str,
              channel_id: str | None) -> str:
    """Start a poll that runs in Slack and post it in the room's thread; returns what to tell the person.
    The caller checked that the person moderates the room."""
    await check_still_exists(services, room)  # a form submitted after its room was deleted is told so
    record = polls.insert(services.db, PollRecord(
        id=f"slack-{uuid.uuid4().hex}", room_id=room.id, team_id=team_id, question=draft.question,
        type=str(draft.type), anonymous=draft.anonymous, options=list(draft.options), created_by=user_id,
        hosted=polls.SLACK))
    rooms.audit(services.db, team_id=team_id, user_id=user_id, action="poll.create", room_id=room.id,
                poll_id=record.id, type=str(draft.type), hosted=polls.SLACK)
    empty = PollResults(poll_id=record.id, question=record.question, total_votes=0)
    try:
        posted, in_thread = await post_in_room_thread(
            services, room, channel_id, text=slack_poll_text(record, empty),
            blocks=slack_poll_blocks(record, empty, at=services.clock()),
            created="I couldn't post your poll", listing="shows the room's polls once one is posted")
    except MeetopsError:
        polls.delete(services.db, record.id)  # nobody could ever vote on it
        raise
    polls.set_message(services.db, record.id, channel=posted["channel"], ts=posted["ts"])
    how = "answer with its *Answer* button" if draft.type == PollType.FREE else "vote with its buttons"
    where = (f"in the thread of the *{mrkdwn_escape(room.name)}* room message" if in_thread else "in the channel")
    return f"Your poll is up {where}: everyone can {how} right there in Slack. Close it with *Close poll*."


async def list_in_room(inv: Invocation, room: RoomRecord, known: dict[str, PollRecord]) -> None:
    """`/meet polls <room>` for a room whose polls run in Slack: each with its state and count, no names."""
    lines = []
    for poll in known.values():
        if not poll.in_slack:
            continue
        results = count_only(inv.services, poll)
        count = plural(results, "answer") if poll.type == PollType.FREE else plural(results, "vote")
        state = "closed" if poll.closed else "open"
        kind = TYPE_LABELS[PollType(poll.type)].lower() + (", anonymous" if poll.anonymous else "")
        lines.append(f"• *{mrkdwn_escape(poll.question)}*: {state}, {count} ({kind})")
    name = mrkdwn_escape(room.name)
    if not lines:
        await inv.reply(f"*{name}* has no polls yet. Ask one with `/meet poll {room.friendly_url}`.")
        return
    await inv.reply_list(f"*{plural(len(lines), 'poll')} in {name}*:", lines)


# -- counting --------------------------------------------------------------------------------


def count_only(services: Services, poll: PollRecord) -> int:
    if poll.type == PollType.FREE:
        return len(polls.answers(services.db, poll.id))
    return sum(len(voters) for voters in polls.votes(services.db, poll.id).values())


async def _names(services: Services, user_ids: Sequence[str]) -> tuple[str, ...]:
    profiles = await asyncio.gather(*(services.people.get(u) for u in user_ids))
    return tuple(p.name or "someone" for p in profiles)


async def results(services: Services, poll: PollRecord) -> PollResults:
    """The poll's results from the votes stored here. Names are looked up only for polls that show them,
    and only as many as the message shows."""
    async def shown(user_ids: Sequence[str]) -> tuple[str, ...]:
        if poll.anonymous:
            return ()
        names = await _names(services, user_ids[:MAX_VOTER_NAMES])
        return names + ("",) * (len(user_ids) - len(names))  # the builder counts the ones it doesn't name

    if poll.type == PollType.FREE:
        grouped: dict[str, tuple[str, list[str]]] = {}
        for user_id, text in polls.answers(services.db, poll.id):
            grouped.setdefault(text.casefold(), (text, []))[1].append(user_id)
        options = [OptionResult(text=text, votes=len(who), voters=await shown(who)) for text, who in grouped.values()]
    else:
        tally = polls.votes(services.db, poll.id)
        options = [OptionResult(text=text, votes=len(tally.get(n, [])), voters=await shown(tally.get(n, [])))
                   for n, text in enumerate(poll.options)]
    return PollResults(poll_id=poll.id, question=poll.question, total_votes=sum(o.votes for o in options),
                       options=tuple(options))


# -- redrawing ---------------------------------------------------------------------------------


async def redraw(services: Services, poll_id: str) -> None:
    """Redraw the poll message from the database. Votes arriving during a redraw are folded into one more
    redraw after it, so a burst of votes costs few updates and the last one shows every vote."""
    running, again = f"poll-redraw:{poll_id}", f"poll-redraw-again:{poll_id}"
    if running in services.in_flight:
        services.in_flight.add(again)
        return
    services.in_flight.add(running)
    try:
        while True:
            services.in_flight.discard(again)
            poll = polls.get(services.db, poll_id)
            if poll is None or not (poll.channel and poll.message_ts):
                return
            tally = await results(services, poll)
            try:
                await services.slack.chat_update(channel=poll.channel, ts=poll.message_ts,
                                                 text=slack_poll_text(poll, tally),
                                                 blocks=slack_poll_blocks(poll, tally, at=services.clock()))
            except SlackApiError as exc:
                log.warning("could not redraw poll %s: %s", poll_id, slack_error(exc))
                raise MeetopsError(f"That is counted, but Slack didn't let me update the poll message "
                                   f"({slack_error(exc)}). `/meet polls &lt;room&gt;` shows the counts.") from None
            if again not in services.in_flight:
                return
    finally:
        services.in_flight.discard(running)
        services.in_flight.discard(again)


# -- the buttons -------------------------------------------------------------------------------


def _poll_in_slack(services: Services, action: dict) -> PollRecord:
    poll = polls.get(services.db, action.get("value") or "")
    if poll is None or not poll.in_slack:
        raise BadInput(GONE)
    return poll


def _where(body: dict) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


async def vote_clicked(services: Services, body: dict, action: dict, respond) -> None:
    user_id, _ = user_and_team(body)
    poll = _poll_in_slack(services, action)
    option = ids.voted_option(action.get("action_id") or "")
    if option is None or option >= len(poll.options) or poll.type == PollType.FREE:
        raise BadInput("That button is not an option of this poll. `/meet polls &lt;room&gt;` lists the room's polls.")
    outcome = polls.vote(services.db, poll.id, user_id, option, multiple=poll.type == PollType.MULTIPLE,
                         at=services.clock(), double_click=DOUBLE_CLICK)
    if outcome.outcome == Outcome.REPEATED:
        return  # the second half of a double click: already counted
    if outcome.outcome in (Outcome.CLOSED, Outcome.GONE):
        await send_private(services, user_id=user_id, channel_id=_where(body), respond=respond,
                           text=CLOSED if outcome.outcome == Outcome.CLOSED else GONE)
        return
    await redraw(services, poll.id)
    if poll.anonymous:
        # Nobody's name is in the message, the voter's included: tell them alone what counts now.
        chosen = mrkdwn_escape(poll.options[option])
        if outcome.outcome == Outcome.REMOVED:
            text = f"You took back your vote for *{chosen}*. The poll is anonymous: nobody sees who voted for what."
        else:
            moved = "".join(f" (instead of *{mrkdwn_escape(poll.options[n])}*)" for n in outcome.withdrawn)
            text = f"Your vote for *{chosen}*{moved} counts. The poll is anonymous: nobody sees who voted for what."
        await send_private(services, user_id=user_id, channel_id=_where(body), text=text, respond=respond)


async def close_clicked(services: Services, body: dict, action: dict, respond) -> None:
    user_id, _ = user_and_team(body)
    poll = _poll_in_slack(services, action)
    room = rooms.get(services.db, poll.room_id)
    if user_id != poll.created_by and not (room is not None and is_moderator(services, room, user_id)):
        raise NotAllowed(f"Only the poll's asker (<@{poll.created_by}>) and the room's moderators can close it.")
    if not polls.close(services.db, poll.id, user_id, at=services.clock()):
        current = polls.get(services.db, poll.id)
        if current is None:
            raise BadInput(GONE)
        if current.closed_by == user_id and current.closed_at and \
                services.clock() - datetime.fromisoformat(current.closed_at) < DOUBLE_CLICK:
            return  # the second half of a double click on Close
        await send_private(services, user_id=user_id, channel_id=_where(body), respond=respond,
                           text="This poll is already closed.")
        return
    rooms.audit(services.db, team_id=poll.team_id, user_id=user_id, action="poll.close", room_id=poll.room_id,
                poll_id=poll.id)
    await redraw(services, poll.id)


async def answer_clicked(services: Services, body: dict, action: dict, respond) -> None:
    user_id, _ = user_and_team(body)
    poll = _poll_in_slack(services, action)
    if poll.closed:
        await send_private(services, user_id=user_id, channel_id=_where(body), respond=respond, text=CLOSED)
        return
    async with once_at_a_time(services, f"answer-form:{poll.id}:{user_id}") as first:
        if first:  # a double click opens one form
            metadata = json.dumps({"channel": _where(body), "poll": poll.id})
            await open_modal(services, body.get("trigger_id", ""),
                             answer_modal(poll, metadata, polls.answer_of(services.db, poll.id, user_id)))


async def answer_submitted(ack, services: Services, body: dict, view: dict) -> None:
    """Checked against the database before the modal closes: a closed or vanished poll is said in the form."""
    user_id, _ = user_and_team(body)
    text = clean(submitted_values(view).get(ids.POLL_ANSWER_BLOCK) or "")
    poll = polls.get(services.db, read_metadata(view).get("poll") or "")
    problem = None
    if poll is None or not poll.in_slack:
        problem = "This poll no longer exists, so your answer has nowhere to go."
    elif not text:
        problem = "Write an answer (it can't be only spaces)."
    elif len(text) > MAX_OPTION:
        problem = f"Keep your answer to {MAX_OPTION} characters or fewer."
    else:
        outcome = polls.answer(services.db, poll.id, user_id, text, at=services.clock())
        if outcome == Outcome.CLOSED:
            problem = "This poll closed while you were writing: it takes no more answers."
        elif outcome == Outcome.GONE:
            problem = "This poll no longer exists, so your answer has nowhere to go."
    if problem:
        await ack(response_action="errors", errors={ids.POLL_ANSWER_BLOCK: problem})
        return
    await ack()
    await redraw(services, poll.id)


def register(app: AsyncApp, router: Router) -> None:
    """The vote, Answer and Close buttons of polls that run in Slack, and the Answer form."""

    @app.action(ids.POLL_VOTE_ACTIONS)
    async def poll_vote_clicked(ack, body, action, services, respond) -> None:
        await ack()
        await vote_clicked(services, body, action, respond)

    @app.action(ids.POLL_CLOSE)
    async def poll_close_clicked(ack, body, action, services, respond) -> None:
        await ack()
        await close_clicked(services, body, action, respond)

    @app.action(ids.POLL_ANSWER)
    async def poll_answer_clicked(ack, body, action, services, respond) -> None:
        await ack()
        await answer_clicked(services, body, action, respond)

    @app.view(ids.POLL_ANSWER_MODAL)
    async def poll_answer_submitted(ack, body, view, services) -> None:
        await answer_submitted(ack, services, body, view)
