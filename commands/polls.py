"""Polls: a form or a one-line command asks the question, the room's thread shows it, Results update it in place."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot import ids
from bot.text import mrkdwn_escape, plural
from bot.errors import BadInput, ProviderNotFound, ProviderUnavailable, RoomDeleted, RoomNotFound
from bot.interactions import accept_submission, modal_metadata, open_modal, open_room_form, submitted_values
from bot.meetings import as_provider_room, check_still_exists, require_meeting_ahead, require_moderator
from bot.messaging import once_at_a_time
from bot.names import clean
from bot.poll_blocks import (
    STATUS_LABELS,
    TYPE_LABELS,
    PollDraft,
    draft_from_form,
    launch_note,
    poll_message_blocks,
    poll_message_text,
    poll_modal,
    poll_problems,
    poll_results_blocks,
    poll_results_text,
)
from bot.providers.base import Capability, PollType
from bot.services import Services
from commands import slack_polls
from commands.router import Invocation, Router, Subcommand, as_flag
from storage import polls, rooms
from storage.polls import PollRecord
from storage.rooms import RoomRecord

DOING = "create polls"
FLAGS = {"--single": "single", "--multiple": "multiple", "--anonymous": "anonymous"}
ONE_LINE = '/meet poll standup "Lunch?" "Pizza" "Sushi"'


async def ask_poll(services: Services, room: RoomRecord, draft: PollDraft, *, team_id: str, user_id: str,
                   channel_id: str | None) -> str:
    """Create the poll and post it in the room's thread; returns what to tell the person."""
    require_moderator(services, room, user_id, DOING)
    provider = services.provider(room)
    if room.status == "deleted":
        raise RoomDeleted(room.name, provider.title)
    if Capability.POLLS not in provider.capabilities:
        # No poll API at the provider: the poll runs in Slack, with a vote button per option.
        return await slack_polls.ask(services, room, draft, team_id=team_id, user_id=user_id, channel_id=channel_id)
    try:
        poll = await provider.create_poll(as_provider_room(room), question=draft.question, type=draft.type,
                                          anonymous=draft.anonymous, options=list(draft.options))
    except ProviderNotFound:
        # Most likely the room itself was deleted there (a form submitted after that): say so in words.
        await check_still_exists(services, room)
        raise
    except ProviderUnavailable as exc:
        # No answer in time: the platform may have made it anyway, and asking again would make a twin.
        raise ProviderUnavailable(f"{exc.user_message} The poll may have been made anyway: "
                                  f"`/meet polls {room.friendly_url}` lists the room's polls, so check there "
                                  "before asking again.") from None
    record = polls.insert(services.db, PollRecord(
        id=poll.id, room_id=room.id, team_id=team_id, question=draft.question, type=str(draft.type),
        anonymous=draft.anonymous, options=list(draft.options), created_by=user_id))
    rooms.audit(services.db, team_id=team_id, user_id=user_id, action="poll.create", room_id=room.id,
                poll_id=poll.id, type=str(draft.type))
    # The provider lists a new poll as not started until a moderator launches it in the meeting: say where.
    posted, in_thread = await slack_polls.post_in_room_thread(
        services, room, channel_id, text=poll_message_text(record),
        blocks=poll_message_blocks(record, note=launch_note(provider.title)),
        created="I created the poll", listing="lists it")
    polls.set_message(services.db, record.id, channel=posted["channel"], ts=posted["ts"])
    where = (f"in the thread of the *{mrkdwn_escape(room.name)}* room message" if in_thread else "in the channel")
    return (f"Your poll is up {where}. To open voting, launch it from the *Polls* panel in the "
            f"{provider.title} meeting.")


def draft_from_words(words: list[str]) -> PollDraft:
    """`"Question?" "Option A" "Option B" [--multiple] [--anonymous]`; no options makes a free-text poll."""
    flagged = [flag for word in words if (flag := as_flag(word))]
    unknown = [flag for flag in flagged if flag not in FLAGS]
    if unknown:
        # Guessing could turn an anonymous poll into a named one: refuse instead.
        raise BadInput(f"I don't know `{mrkdwn_escape(unknown[0][:40])}`. A one-line poll takes `--multiple` and "
                       f"`--anonymous`, for example `{ONE_LINE} --anonymous`.")
    flags = {FLAGS[flag] for flag in flagged}
    # Invisible and control characters (right-to-left overrides, zero-width spaces) can disguise text.
    rest = [clean(w) for w in words if not as_flag(w)]
    if not rest:
        raise BadInput(f"What is the question? For example `{ONE_LINE}`.")
    question, *options = rest
    # Unlike the form's spare fields, a quoted "" in a command is a mistake: say which, counting from 1.
    empty = [n for n, text in enumerate(options, 1) if not text]
    if empty:
        which = f"Option {empty[0]} is empty" if len(empty) == 1 else \
            f"Options {', '.join(map(str, empty[:-1]))} and {empty[-1]} are empty"
        raise BadInput(f"I can't make that poll: {which}. Give every option some text, or leave it out. "
                       f"For example `{ONE_LINE}`.")
    type_ = PollType.MULTIPLE if "multiple" in flags else PollType.SINGLE if options else PollType.FREE
    problems = poll_problems(question, type_, options)
    if problems:
        lines = [f"Option {key + 1}: {msg}" if isinstance(key, int) else msg for key, msg in problems.items()]
        raise BadInput("I can't make that poll. " + mrkdwn_escape(" ".join(lines)) + f" For example `{ONE_LINE}`.")
    return PollDraft(question=question, type=type_, anonymous="anonymous" in flags, options=tuple(options))


async def poll_command(inv: Invocation) -> None:
    if not inv.args:
        raise BadInput(f"Which room? `/meet poll standup` opens the poll form; `{ONE_LINE}` asks in one go.")
    whole = len(inv.args) == 1
    if len(inv.args) > 1 and not inv.quoted:
        # `/meet poll Design Review` names a room, as for every other command: its form opens. But
        # `/meet poll standup Where shall we eat?` would make "Where" a question and the rest options.
        try:
            room = await inv.room(" ".join(inv.args))
        except RoomNotFound:
            raise BadInput(f"To ask in one line, put the question and each option in quotes: `{ONE_LINE}`. "
                           "Or `/meet poll &lt;room&gt;` opens the form.") from None
        whole = True
    else:
        room = await inv.room(inv.args[0])
    require_meeting_ahead(inv.services, room)
    if whole:
        require_moderator(inv.services, room, inv.user_id, DOING)
        await open_modal(inv.services, inv.trigger_id,
                         poll_modal(room.name, modal_metadata(channel=inv.channel_id, room=room.id)))
        return
    draft = draft_from_words(inv.args[1:])
    await inv.reply(await ask_poll(inv.services, room, draft, team_id=inv.team_id, user_id=inv.user_id,
                                   channel_id=inv.channel_id))


async def list_polls(inv: Invocation) -> None:
    if not inv.args:
        raise BadInput("Which room? For example `/meet polls standup`.")
    services = inv.services
    room = await inv.room(" ".join(inv.args))
    known = polls.in_room(services.db, room.id)
    provider = services.provider(room)
    if Capability.POLLS not in provider.capabilities:
        await slack_polls.list_in_room(inv, room, known)
        return
    lines = []
    async for poll in provider.iter_polls(as_provider_room(room)):
        mine = known.get(poll.id)
        kind = TYPE_LABELS[PollType(mine.type)] if mine else TYPE_LABELS[PollType.MULTIPLE if poll.multiple else PollType.SINGLE]
        anonymous = ", anonymous" if poll.anonymous else ""
        status = STATUS_LABELS.get(poll.status, poll.status or "unknown")
        launch = f"; launch it from the *Polls* panel in the {provider.title} meeting" if poll.status == "created" else ""
        lines.append(f"• *{mrkdwn_escape(poll.question)}*: {status} ({kind.lower()}{anonymous}){launch}")
    name = mrkdwn_escape(room.name)
    if not lines:
        await inv.reply(f"*{name}* has no polls yet. Ask one with `/meet poll {room.friendly_url}`.")
        return
    await inv.reply_list(f"*{plural(len(lines), 'poll')} in {name}*:", lines)


async def show_results(services: Services, poll: PollRecord, *, channel: str | None, ts: str | None) -> None:
    """Update the poll message in place with the latest results; a second click meanwhile does nothing."""
    async with once_at_a_time(services, f"results:{poll.id}") as first:
        if not first:
            return
        if poll.in_slack:  # a poll that runs in Slack is redrawn on every vote; this is an old Results button
            await slack_polls.redraw(services, poll.id)
            return
        room = rooms.get(services.db, poll.room_id)
        gone = BadInput(f"*{mrkdwn_escape(room.name)}* was deleted, and its poll results with it." if room else
                        "The room of this poll no longer exists, and its results went with it.")
        if room is None or room.status == "deleted":
            raise gone
        try:
            results = await services.provider(room).poll_results(as_provider_room(room), poll.id)
        except ProviderNotFound:  # deleted at the provider, or by meetops just now
            raise gone from None
        await services.slack.chat_update(channel=poll.channel or channel, ts=poll.message_ts or ts,
                                         text=poll_results_text(poll, results),
                                         blocks=poll_results_blocks(poll, results, at=services.clock()))


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("poll", poll_command,
                          '/meet poll <room> ["Question?" "Option" "Option" … [--multiple] [--anonymous]]',
                          "ask a poll in the room (moderators); with no question, a form opens"))
    router.add(Subcommand("polls", list_polls, "/meet polls <room>", "the room's polls and their status"))

    @app.action(ids.POLL)
    async def poll_clicked(ack, body, action, services) -> None:
        await ack()
        await open_room_form(services, body, action, DOING, poll_modal)

    slack_polls.register(app, router)

    @app.view(ids.POLL_MODAL)
    async def poll_submitted(ack, body, view, services) -> None:
        draft, errors = draft_from_form(submitted_values(view))
        try:
            sent = await accept_submission(ack, services, body, errors, DOING)
        except RoomNotFound:
            # The room was forgotten (or deleted) while the form was open; its id means nothing to a person.
            raise BadInput("The room this poll was for no longer exists, so I didn't create the poll. "
                           "`/meet rooms` lists the rooms there are.") from None
        if sent is not None:
            await sent.reply(services, await ask_poll(services, sent.room, draft, team_id=sent.team_id,
                                                      user_id=sent.user_id, channel_id=sent.channel))

    @app.action(ids.POLL_RESULTS)
    async def results_clicked(ack, body, action, services) -> None:
        await ack()
        poll = polls.get(services.db, action.get("value") or "")
        if poll is None:
            raise BadInput("I don't know this poll any more. `/meet polls &lt;room&gt;` lists the room's polls.")
        container = body.get("container") or {}
        await show_results(services, poll, channel=container.get("channel_id"), ts=container.get("message_ts"))
