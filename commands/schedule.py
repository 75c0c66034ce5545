"""`/meet schedule` and `/meet upcoming`: meetings at a date and time, repeating or not, on providers that
can schedule (declared capability). The form checks the time, the zone and the invitees in words; the
meeting gets its own room, a "scheduled meeting" message in the channel, and a reminder with Join ten
minutes before each occurrence (APScheduler, re-armed at start-up from SQLite)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.triggers.date import DateTrigger
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import schedule_blocks as forms
from bot.errors import BadInput, MeetopsError
from bot.interactions import open_modal, read_metadata, user_and_team
from bot.messaging import cannot_post, once_at_a_time, send_private, slack_error
from bot.names import slugify, with_suffix
from bot.providers.base import Capability, Provider
from bot.providers.scheduling import MeetingPlan
from bot.recurrence import Repeat, next_start
from bot.services import Services
from bot.text import mrkdwn_escape, plural
from commands.router import Invocation, Router, Subcommand, as_flag
from storage import rooms, schedules
from storage.rooms import RoomRecord
from storage.schedules import ScheduleRecord

log = logging.getLogger(__name__)

UPCOMING_DAYS = 30
MAX_UPCOMING = 40
PROFILE_WAIT = 1.5  # seconds the form may wait for invitees' Slack profiles (Slack wants its ack within 3 s)


# -- choosing the provider ------------------------------------------------------------------


def scheduling_provider(services: Services, name: str | None) -> Provider:
    """The named provider or the default; a clear refusal (naming one that can) when it cannot schedule."""
    provider = services.providers.pick(name)
    if Capability.SCHEDULING in provider.capabilities:
        return provider
    others = [p for p in services.providers.with_capability(Capability.SCHEDULING) if p.name != provider.name]
    hint = (f" {others[0].title} can: `/meet schedule --provider {others[0].name}`." if others else "")
    raise MeetopsError(provider.unsupported(Capability.SCHEDULING).user_message + hint)


def _provider_flag(words: list[str]) -> str | None:
    flags = [as_flag(w) for w in words]
    if "--provider" in flags:
        at = flags.index("--provider")
        if at + 1 < len(words):
            return words[at + 1]
        raise BadInput("Which provider? For example `/meet schedule --provider &lt;name&gt;`; `/meet help` lists them.")
    if words:
        raise BadInput("`/meet schedule` opens a form; it takes no other words (only `--provider &lt;name&gt;`).")
    return None


async def schedule_command(inv: Invocation) -> None:
    services = inv.services
    provider = scheduling_provider(services, _provider_flag(inv.args))
    profile = await services.people.get(inv.user_id)
    zone = profile.tz or services.settings.meetops_timezone
    today = services.clock().astimezone(ZoneInfo(zone)).date()
    metadata = json.dumps({"channel": inv.channel_id, "provider": provider.name})
    await open_modal(services, inv.trigger_id,
                     forms.schedule_modal(zone=zone, today=today, metadata=metadata, provider_title=provider.title))


# -- the form's submission -----------------------------------------------------------------


async def invitee_emails(services: Services, user_ids: tuple[str, ...]) -> tuple[list[str], str | None]:
    """The invitees' e-mail addresses, or the sentence saying who has none Slack shows."""
    if not user_ids:
        return [], None
    try:
        profiles = await asyncio.wait_for(asyncio.gather(*(services.people.get(u) for u in user_ids)), PROFILE_WAIT)
    except asyncio.TimeoutError:
        return [], "Slack took too long to tell me the invitees' e-mail addresses. Please submit again."
    missing = [p.name or "someone" for p in profiles if not p.email or p.is_bot or p.deleted]
    if missing:
        who = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        return [], (f"I can't see an e-mail address for {who} in Slack, so they can't get an invitation. "
                    "Remove them here; they can still Join from the channel.")
    return [p.email for p in profiles if p.email], None


async def _free_slug(services: Services, team_id: str, title: str) -> str:
    """The meeting's link name (for `/meet join`): its title's, suffixed past the team's rooms that use it.
    Asks for these candidates only, not for every link name the team ever used."""
    base = slugify(title)[:28].strip("-") or "meeting"
    candidates = [base, *(with_suffix(base, n) for n in range(2, 200))]
    taken = rooms.taken_of(services.db, team_id, candidates)
    return next((c for c in candidates if rooms.fold(c) not in taken),
                with_suffix(base, int(services.clock().timestamp()) % 100000))


async def schedule_meeting(services: Services, *, provider: Provider, draft: forms.ScheduleDraft, emails: list[str],
                           team_id: str, user_id: str, channel_id: str) -> str:
    """Create the meeting at the provider, remember it, post its message and arm its reminder."""
    plan = MeetingPlan(title=draft.title, starts_at=draft.starts_at, duration=draft.duration, timezone=draft.zone,
                       repeat=draft.repeat, invitees=tuple(emails), description="Scheduled from Slack by meetops")
    meeting = await provider.schedule_meeting(plan)
    room = meeting.room
    record = rooms.insert(services.db, RoomRecord(
        id=room.id, team_id=team_id, channel_id=channel_id, creator_id=user_id, name=draft.title[:80],
        friendly_url=await _free_slug(services, team_id, draft.title), room_url=room.room_url,
        privacy=room.privacy, description=draft.title, provider=provider.name,
        provider_data=rooms.provider_data(dict(room.extra), room.facts)))
    scheduled = schedules.insert(services.db, ScheduleRecord(
        id=f"{provider.name}:{meeting.id}", provider=provider.name, meeting_id=meeting.id, team_id=team_id,
        channel_id=channel_id, room_id=record.id, title=draft.title, starts_at=draft.starts_at.isoformat(),
        ends_at=(draft.starts_at + draft.duration).isoformat(), timezone=draft.zone, repeat=str(draft.repeat),
        created_by=user_id))
    rooms.audit(services.db, team_id=team_id, user_id=user_id, action="meeting.schedule", room_id=record.id,
                provider=provider.name, repeat=str(draft.repeat), invitees=len(emails))
    arm(services, scheduled)
    when = forms.when_text(draft.starts_at, draft.starts_at + draft.duration)
    try:
        posted = await services.slack.chat_postMessage(
            channel=channel_id, text=forms.meeting_text(draft.title, draft.starts_at),
            blocks=forms.meeting_blocks(title=draft.title, starts_at=draft.starts_at,
                                        ends_at=draft.starts_at + draft.duration, zone=draft.zone,
                                        repeat=draft.repeat, room_id=record.id, organiser=user_id,
                                        invited=len(meeting.invited), provider_title=provider.title,
                                        problems=meeting.problems))
    except SlackApiError as exc:
        log.info("could not post the scheduled meeting in %s: %s", channel_id, slack_error(exc))
        return (f"I scheduled *{mrkdwn_escape(draft.title)}* ({when}), but: {cannot_post(channel_id, exc)} "
                f"`/meet join {record.friendly_url}` gets you in.")
    schedules.update(services.db, scheduled.id, message_ts=posted["ts"])
    rooms.update(services.db, record.id, message_channel=posted["channel"], message_ts=posted["ts"])
    invited = f" {plural(len(meeting.invited), 'invitation')} sent by e-mail." if meeting.invited else ""
    problems = f" Not invited: {mrkdwn_escape('; '.join(meeting.problems))}." if meeting.problems else ""
    return f"Scheduled *{mrkdwn_escape(draft.title)}* for {when}.{invited}{problems}"


# -- reminders ----------------------------------------------------------------------------


def job_id(record_id: str) -> str:
    return f"meeting-reminder:{record_id}"


def arm(services: Services, record: ScheduleRecord) -> datetime | None:
    """The next reminder of a scheduled meeting (ten minutes before its next start); None when it has no
    start left."""
    now = services.clock()
    after = max(now + forms.REMINDER_BEFORE, datetime.fromisoformat(record.reminded_for) if record.reminded_for
                else now + forms.REMINDER_BEFORE)
    start = next_start(Repeat.parse(record.repeat), record.start, record.timezone, after)
    if start is None:
        disarm(services, record.id)
        return None
    services.scheduler.add_job(run_reminder, DateTrigger(run_date=start - forms.REMINDER_BEFORE),
                               args=[services, record.id, start.isoformat()], id=job_id(record.id),
                               name="meeting-reminder", replace_existing=True)
    return start


def disarm(services: Services, record_id: str) -> None:
    try:
        services.scheduler.remove_job(job_id(record_id))
    except JobLookupError:
        pass


async def cancel_for_room(services: Services, room: RoomRecord, by: str) -> bool:
    """The room is being deleted: its meetings are cancelled (no more reminders). Returns whether the room's
    message is one of theirs, now saying the meeting is cancelled, so there is nothing else to redraw."""
    shown = False
    for meeting in schedules.of_room(services.db, room.id):
        schedules.update(services.db, meeting.id, status="cancelled")
        disarm(services, meeting.id)
        if room.message_ts and meeting.message_ts == room.message_ts and room.message_channel:
            try:
                await services.slack.chat_update(channel=room.message_channel, ts=room.message_ts,
                                                 text=forms.cancelled_text(meeting.title),
                                                 blocks=forms.cancelled_blocks(title=meeting.title, by=by))
                shown = True
            except SlackApiError as exc:
                log.info("could not mark the meeting %s cancelled: %s", meeting.id, slack_error(exc))
    return shown


async def run_reminder(services: Services, record_id: str, start_iso: str) -> None:
    record = schedules.get(services.db, record_id)
    if record is None or record.status != schedules.SCHEDULED:
        return
    room = rooms.get(services.db, record.room_id)
    if room is None or room.status == "deleted":
        schedules.update(services.db, record_id, status="cancelled")
        return
    start = datetime.fromisoformat(start_iso)
    async with once_at_a_time(services, f"reminder:{record_id}:{start_iso}") as first:
        if not first or (record.reminded_for and datetime.fromisoformat(record.reminded_for) >= start):
            return
        try:
            await services.slack.chat_postMessage(
                channel=record.channel_id, text=forms.reminder_text(record.title),
                blocks=forms.reminder_blocks(title=record.title, starts_at=start, room_id=record.room_id))
        except SlackApiError as exc:
            log.warning("reminder for %s not posted in %s: %s", record_id, record.channel_id, slack_error(exc))
        schedules.update(services.db, record_id, reminded_for=start.isoformat())
        record.reminded_for = start.isoformat()
    arm(services, record)


async def on_start(services: Services) -> None:
    """Re-arm the reminders kept in the database (one whose time passed while the bot was down is skipped)."""
    for record in schedules.active(services.db):
        arm(services, record)


# -- /meet upcoming -----------------------------------------------------------------------


def _how_to_schedule(services: Services) -> str:
    """Where `/meet schedule` works here: with the default platform, another one, or none at all."""
    able = services.providers.with_capability(Capability.SCHEDULING)
    if services.providers.default in able:
        return "`/meet schedule` schedules one."
    if able:
        return f"`/meet schedule --provider {able[0].name}` schedules one on {able[0].title}."
    return "None of the meeting platforms set up here can schedule meetings."


async def upcoming_command(inv: Invocation) -> None:
    services = inv.services
    mine = schedules.in_channel(services.db, inv.team_id, inv.channel_id)
    if not mine:
        await inv.reply(f"No meetings are scheduled in this channel. {_how_to_schedule(services)}")
        return
    now = services.clock()
    until = now + timedelta(days=UPCOMING_DAYS)
    ids_by_provider: dict[str, set[str]] = {}
    for record in mine:
        ids_by_provider.setdefault(record.provider, set()).add(record.meeting_id)
    lines: list[tuple[datetime, str]] = []
    for name, meeting_ids in ids_by_provider.items():
        provider = services.providers.get(name)
        provider.require(Capability.SCHEDULING)
        async for occurrence in provider.iter_upcoming(since=now, until=until):
            if occurrence.meeting_id in meeting_ids:
                lines.append((occurrence.starts_at, forms.upcoming_line(
                    occurrence.title, occurrence.starts_at, occurrence.ends_at, occurrence.repeating)))
    if not lines:
        await inv.reply(f"No meeting of this channel is due in the next {UPCOMING_DAYS} days.")
        return
    lines.sort(key=lambda pair: pair[0])
    shown = [line for _, line in lines[:MAX_UPCOMING]]
    more = f" (the first {MAX_UPCOMING})" if len(lines) > MAX_UPCOMING else ""
    await inv.reply_list(f"*{plural(len(lines), 'meeting')} in the next {UPCOMING_DAYS} days*{more}:", shown)


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("schedule", schedule_command, "/meet schedule [--provider <name>]",
                          "schedule a meeting (date, time, repeat, invitees) with reminders in the channel (where the platform can)"))
    router.add(Subcommand("upcoming", upcoming_command, "/meet upcoming",
                          "this channel's scheduled meetings in the next 30 days"))

    @app.view(forms.SCHEDULE_MODAL)
    async def schedule_submitted(ack, body, view, services) -> None:
        meta = read_metadata(view)
        user_id, team_id = user_and_team(body)
        channel_id = meta.get("channel") or ""
        provider = scheduling_provider(services, meta.get("provider"))
        draft, errors = forms.read_form(forms.form_values(view), now=services.clock())
        emails: list[str] = []
        if draft is not None and draft.invitees:
            emails, problem = await invitee_emails(services, draft.invitees)
            if problem:
                errors = {forms.INVITEES: problem}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        async with once_at_a_time(services, f"schedule:{view.get('id') or view.get('hash')}") as first:
            if not first:
                return
            text = await schedule_meeting(services, provider=provider, draft=draft, emails=emails, team_id=team_id,
                                          user_id=user_id, channel_id=channel_id)
        await send_private(services, user_id=user_id, channel_id=channel_id, text=text)
