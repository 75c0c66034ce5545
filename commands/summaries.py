"""Session summaries: `/meet summary <room>`, the Summary button, and the job that waits for one.

A summary someone wants is a row in `summaries` (see storage.summaries). While the provider
says IN_PROGRESS the row stays pending and one scheduler job per session polls it
(`summary:<session id>`, every MEETOPS_SUMMARY_POLL_SECONDS plus a little jitter, until
MEETOPS_SUMMARY_MAX_WAIT_MINUTES). Whoever finds it READY first (the job, a webhook, a
click) claims the row and posts it in the room message's thread: once per session.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.triggers.date import DateTrigger
from slack_bolt.async_app import AsyncApp

from bot import ids
from bot.blocks import format_duration
from bot.text import mrkdwn_escape, slack_date
from bot.chunking import section, shorten, text_messages
from bot.delivery import SUMMARY_EVENT, CannotLook, find_marked, metadata, not_sent
from bot.errors import BadInput, ProviderError
from bot.interactions import answer_room_button
from bot.meetings import as_provider_room
from bot.providers.base import Capability, Provider, Session, SummaryStatus
from bot.services import Services
from commands.router import Invocation, Router, Subcommand
from storage import rooms
from storage import sessions as session_log
from storage import summaries as store
from storage.rooms import RoomRecord
from storage.summaries import GAVE_UP, NO_TRANSCRIPT, PENDING, POSTED, POSTING, SummaryRecord

log = logging.getLogger(__name__)

JITTER_SECONDS = 5.0  # spread polls so many sessions ending together don't poll in lockstep
EXCERPT_CHARS = 280  # the summary's start, as digests show it
VERIFY_DELAY_SECONDS = 30.0  # after a post got no answer, look for it in the thread this much later


def job_id(session_id: str) -> str:
    return f"summary:{session_id}"


# -- Block Kit (pure) -------------------------------------------------------------------


def summary_messages(room_name: str, text: str, started: datetime | None = None) -> list[list[dict]]:
    """The summary as thread replies: a title (with the meeting's start, as a room meets many times), then
    the text in sections, split to fit Slack."""
    when = f", meeting of {slack_date(started)}" if started else ""
    head = [section(f":memo: *Meeting summary: {mrkdwn_escape(room_name)}*{when}")]
    return text_messages(mrkdwn_escape(text), head=head)


def meeting_start(services: Services, room_id: str, session_id: str) -> datetime | None:
    """When the session began, if it is the room's latest one (the one the database knows)."""
    room = rooms.get(services.db, room_id)
    if room is None or room.session_id != session_id or not room.session_started_at:
        return None
    return datetime.fromisoformat(room.session_started_at)


def no_transcript_text(room_name: str, provider: Provider) -> str:
    return f"There is no summary of the last meeting in *{mrkdwn_escape(room_name)}*: {provider.no_summary_reason}"


def gave_up_text(room_name: str, minutes: int) -> str:
    return (f":hourglass: I waited {format_duration(minutes * 60)} for the summary of this meeting in "
            f"*{mrkdwn_escape(room_name)}* and it still isn't ready, so I stopped checking. "
            f"Try `/meet summary {mrkdwn_escape(room_name)}` later.")


# -- the state machine ------------------------------------------------------------------


def _provider_of(services: Services, room_id: str) -> Provider:
    room = rooms.get(services.db, room_id)
    return services.provider(room) if room is not None else services.providers.default


def _room_name(services: Services, room_id: str) -> str:
    room = rooms.get(services.db, room_id)
    return room.name if room else "this room"


def want(services: Services, room: RoomRecord, session_id: str, *, requested_by: str | None = None,
         fallback_channel: str | None = None) -> SummaryRecord | None:
    """The session's summary row, made pending if new. None when there is nowhere to post it."""
    if room.message_channel and room.message_ts:
        channel, thread = room.message_channel, room.message_ts
    elif fallback_channel:
        channel, thread = fallback_channel, None
    else:
        return None
    deadline = services.clock() + timedelta(minutes=services.settings.meetops_summary_max_wait_minutes)
    return store.ensure(services.db, session_id=session_id, room_id=room.id, deadline=deadline,
                        post_channel=channel, thread_ts=thread, requested_by=requested_by)


def arm(services: Services, record: SummaryRecord, at: datetime | None = None) -> datetime:
    """(Re-)schedule the session's poll: after one interval plus jitter by default, never after the deadline."""
    if at is None:
        delay = services.settings.meetops_summary_poll_seconds + random.uniform(0, JITTER_SECONDS)
        at = services.clock() + timedelta(seconds=delay)
    at = min(at, record.deadline_at)
    store.set_next_poll(services.db, record.session_id, at)
    services.scheduler.add_job(poll_summary, DateTrigger(run_date=at), args=[services, record.session_id],
                               id=job_id(record.session_id), name="summary poll", replace_existing=True)
    return at


def session_over(services: Services, room: RoomRecord, session_id: str) -> None:
    """A session ended (a webhook said so, or meetops ended it): with auto-summary on, start waiting for its summary."""
    if not room.auto_summary:
        return
    record = want(services, room, session_id)
    if record is not None and record.state == PENDING and not is_armed(services, session_id):
        arm(services, record)


def is_armed(services: Services, session_id: str) -> bool:
    return services.scheduler.get_job(job_id(session_id)) is not None


def disarm(services: Services, session_id: str) -> None:
    try:
        services.scheduler.remove_job(job_id(session_id))
    except JobLookupError:
        pass  # a one-shot job the scheduler already took off to run


async def poll_summary(services: Services, session_id: str) -> None:
    """The scheduled job: one look at the summary; post it, give up, or come back later."""
    record = store.get(services.db, session_id)
    if record is None or record.state != PENDING:
        disarm(services, session_id)  # settled meanwhile (a webhook, a click)
        return
    if services.clock() >= record.deadline_at:
        await give_up(services, record)
        return
    try:
        status = await check(services, record)
    except ProviderError as exc:
        log.warning("summary poll for session %s failed: %s", session_id, exc.user_message)
        status = SummaryStatus.IN_PROGRESS
    if status == SummaryStatus.IN_PROGRESS and (record := store.get(services.db, session_id)) and record.state == PENDING:
        arm(services, record)


async def check(services: Services, record: SummaryRecord) -> SummaryStatus:
    """One GET of the summary; a READY one is posted, a missing transcript noted. Provider errors propagate."""
    room = rooms.get(services.db, record.room_id)
    provider = services.provider(room) if room is not None else services.providers.default
    summary = await provider.get_summary(record.session_id)
    store.record_poll(services.db, record.session_id, None)
    if summary.status == SummaryStatus.READY:
        await post_summary(services, record, summary.text)
    elif summary.status == SummaryStatus.NO_TRANSCRIPT:
        await note_no_transcript(services, record)
    return summary.status


async def post_summary(services: Services, record: SummaryRecord, text: str) -> bool:
    """Post the summary if this call wins the claim; False when someone else did (or does) it.

    Each message carries metadata naming the session and its part, so a post whose answer never came
    (a crash, a timeout, a 5xx) is looked for in the thread before it is made again (`verify_posting`).
    """
    if not store.transition(services.db, record.session_id, PENDING, POSTING, excerpt=shorten(text, EXCERPT_CHARS)):
        return False
    disarm(services, record.session_id)
    record = store.get(services.db, record.session_id) or record
    parts = store.parts(record)  # what a verification found already in the thread
    try:
        started = meeting_start(services, record.room_id, record.session_id)
        messages = summary_messages(_room_name(services, record.room_id), text, started)
        for index, blocks in enumerate(messages):
            if index in parts:
                continue
            posted = await services.slack.chat_postMessage(
                channel=record.post_channel, thread_ts=record.thread_ts,
                text=shorten(f"Meeting summary: {mrkdwn_escape(text)}", 150), blocks=blocks, unfurl_links=False,
                metadata=metadata(SUMMARY_EVENT, session=record.session_id, part=index, parts=len(messages)))
            parts[index] = posted["ts"]
            store.part_posted(services.db, record.session_id, index, posted["ts"])
        link = await permalink(services, record.post_channel, parts.get(0))
    except BaseException as exc:
        if not_sent(exc):
            # Slack refused it: certainly not in the thread. Back to pending; the next poll tries again.
            store.transition(services.db, record.session_id, POSTING, PENDING)
            arm(services, record)
        else:
            # It may have gone out (no answer, a 5xx, the process stopping): look before posting again.
            log.warning("the summary post of session %s got no answer; checking the thread before any retry",
                        record.session_id)
            if services.scheduler is not None and not isinstance(exc, asyncio.CancelledError):
                arm_verification(services, record.session_id)
        raise
    store.transition(services.db, record.session_id, POSTING, POSTED, message_ts=parts.get(0), permalink=link)
    return True


def verify_job_id(session_id: str) -> str:
    return f"summary-verify:{session_id}"


def arm_verification(services: Services, session_id: str, delay: float = VERIFY_DELAY_SECONDS) -> None:
    services.scheduler.add_job(verify_posting, DateTrigger(run_date=services.clock() + timedelta(seconds=delay)),
                               args=[services, session_id], id=verify_job_id(session_id), name="summary check",
                               replace_existing=True)


async def verify_posting(services: Services, session_id: str) -> str | None:
    """A summary left in `posting` (a crash mid-post, a post with no answer): look for its messages in the
    thread. All there: recorded as posted, nothing sent. Some or none: back to pending with the parts found,
    and the poll posts only the rest. The thread can't be read (no scope for a DM, not a member): posted
    again, as before (a duplicate is better than a lost summary). Slack unreachable: checked again later.
    Returns the state it left the row in."""
    record = store.get(services.db, session_id)
    if record is None or record.state != POSTING:
        return record.state if record else None
    try:
        found = await find_marked(services, record.post_channel, thread_ts=record.thread_ts,
                                  event_type=SUMMARY_EVENT, match=lambda p: p.get("session") == session_id)
    except CannotLook as exc:
        if exc.later:
            log.warning("could not read the thread of session %s's summary (%s); trying again later", session_id, exc)
            arm_verification(services, session_id, delay=services.settings.meetops_summary_poll_seconds)
            return POSTING
        log.warning("cannot read the thread of session %s's summary (%s); posting it again", session_id, exc)
        found = []
    parts: dict[int, str] = {}
    total = None
    for message in found:
        payload = message["metadata"]["event_payload"]
        if isinstance(payload.get("part", 0), int) and message.get("ts"):
            parts.setdefault(payload.get("part", 0), message["ts"])
            total = payload.get("parts") if isinstance(payload.get("parts"), int) else total
    for index, ts in parts.items():
        store.part_posted(services.db, session_id, index, ts)
    if parts and total is not None and set(range(total)) <= set(parts):
        link = await permalink(services, record.post_channel, parts[0])
        store.transition(services.db, session_id, POSTING, POSTED, message_ts=parts[0], permalink=link)
        log.info("the summary of session %s was already in its thread; recorded it, posted nothing", session_id)
        return POSTED
    if store.transition(services.db, session_id, POSTING, PENDING):
        arm(services, store.get(services.db, session_id), at=services.clock())
    log.info("the summary of session %s was not (all) in its thread (%d part(s) found); posting the rest",
             session_id, len(parts))
    return PENDING


async def note_no_transcript(services: Services, record: SummaryRecord) -> bool:
    """Transcription was off: settle the row, and tell the thread when nobody asked (the webhook armed it)."""
    if not store.transition(services.db, record.session_id, PENDING, NO_TRANSCRIPT):
        return False
    disarm(services, record.session_id)
    if record.requested_by is None:
        await services.slack.chat_postMessage(channel=record.post_channel, thread_ts=record.thread_ts,
                                              text=no_transcript_text(_room_name(services, record.room_id),
                                                                      _provider_of(services, record.room_id)))
    return True


async def give_up(services: Services, record: SummaryRecord) -> None:
    if not store.transition(services.db, record.session_id, PENDING, GAVE_UP):
        return
    disarm(services, record.session_id)
    await services.slack.chat_postMessage(
        channel=record.post_channel, thread_ts=record.thread_ts,
        text=gave_up_text(_room_name(services, record.room_id), services.settings.meetops_summary_max_wait_minutes))


async def permalink(services: Services, channel: str, ts: str | None) -> str | None:
    if not ts:
        return None
    try:
        return (await services.slack.chat_getPermalink(channel=channel, message_ts=ts))["permalink"]
    except Exception as exc:  # a missing link only costs the digest a link
        log.info("no permalink for a message in %s: %s", channel, exc)
        return None


# -- asking for it ----------------------------------------------------------------------


async def latest_session(services: Services, room: RoomRecord) -> Session | None:
    """The room's latest meeting: from the provider when it lists them, else from meetops' own log."""
    provider = services.provider(room)
    if Capability.SESSION_HISTORY in provider.capabilities:
        return await provider.latest_session(as_provider_room(room))
    known = session_log.latest_of_room(services.db, room.id)
    if known is None:
        return None
    return Session(id=known.session_id, room_id=room.id, started_at=known.started, ended_at=known.ended,
                   live=known.state == session_log.LIVE, participants=known.participants)


async def request_summary(services: Services, room: RoomRecord, *, user_id: str, channel_id: str | None) -> str:
    """What `/meet summary` and the Summary button do; returns what to tell the person."""
    name = mrkdwn_escape(room.name)
    provider = services.provider(room)
    provider.require(Capability.SUMMARIES)
    session = await latest_session(services, room)
    if session is None:
        return f"*{name}* hasn't had a meeting yet, so there is nothing to summarise."
    if session.live and not ((posted := store.get(services.db, session.id)) and posted.state == POSTED):
        # (A platform that sends its summary with the recording may say so before meetops saw the end.)
        return f"The meeting in *{name}* is still going. Its summary comes once it ends."
    record = want(services, room, session.id, requested_by=user_id, fallback_channel=channel_id)
    if record is None:
        raise BadInput("I have nowhere to post the summary. Ask in a channel I'm in.")
    if record.state == GAVE_UP and store.restart(services.db, session.id, services.clock() + timedelta(
            minutes=services.settings.meetops_summary_max_wait_minutes)):
        record = store.get(services.db, session.id)
    where = "the room's thread" if record.thread_ts else "this channel"
    if record.state == POSTED:
        link = f"<{record.permalink}|{where}>" if record.permalink else where
        return f"The summary of the last meeting in *{name}* is already in {link}."
    if record.state == POSTING:
        return f"The summary of the last meeting in *{name}* is being posted in {where} right now."
    if record.state == NO_TRANSCRIPT:
        return no_transcript_text(room.name, provider)
    status = await check(services, record)
    if status == SummaryStatus.READY:
        return f"Here it is: I posted the summary of the last meeting in *{name}* in {where}."
    if status == SummaryStatus.NO_TRANSCRIPT:
        return no_transcript_text(room.name, provider)
    record = store.get(services.db, session.id)
    if record.state == PENDING and not is_armed(services, session.id):
        arm(services, record)
    minutes = services.settings.meetops_summary_max_wait_minutes
    return (f":hourglass_flowing_sand: The summary of the last meeting in *{name}* is on its way. I'll post it in "
            f"{where} as soon as it's ready (I'll keep checking for up to {format_duration(minutes * 60)}).")


async def summary_command(inv: Invocation) -> None:
    if not inv.args:
        raise BadInput("Which room? For example `/meet summary standup`.")
    room = await inv.room(" ".join(inv.args))
    await inv.reply(await request_summary(inv.services, room, user_id=inv.user_id, channel_id=inv.channel_id))


async def on_start(services: Services) -> None:
    """Re-arm every pending summary from the database, at its stored time (at once if that passed)."""
    now, waiting = services.clock(), store.pending(services.db)
    for record in waiting:
        at = datetime.fromisoformat(record.next_poll_at) if record.next_poll_at else now
        arm(services, record, at=max(at, now))
    log.info("re-armed %d pending summary job(s)", len(waiting))


async def on_serving(services: Services) -> None:
    """Posts a crash interrupted (rows left in `posting`) are looked for in their threads before anything is
    posted again; run as soon as the process serves (never by a process that failed to start)."""
    interrupted = store.in_state(services.db, POSTING)
    if interrupted:
        log.warning("%d summary post(s) were interrupted; looking for them in their threads", len(interrupted))
    for record in interrupted:
        services.spawn(verify_posting(services, record.session_id), name="interrupted summary check")


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("summary", summary_command, "/meet summary <room>",
                          "post the AI summary of the room's last meeting in its thread"))

    @app.action(ids.SUMMARY)
    async def summary_clicked(ack, body, action, services, respond) -> None:
        await ack()
        await answer_room_button(services, body, action, respond, lambda room, user_id, channel_id: request_summary(
            services, room, user_id=user_id, channel_id=channel_id))
