"""`/meet digest …`: a channel's daily or weekly digest of its rooms' meetings, and the job that posts it.

The schedule lives in `digests` (storage.digests) and one scheduler job per channel
(`digest:<team>:<channel>`) is armed from it at the next slot, computed on the wall clock of
the channel's zone (so 09:00 stays 09:00 across DST). A digest covers the sessions that ended
since the previous one. Missed while the bot was down: one catch-up digest at start-up, then
the next slot. Sessions are streamed page by page and the messages built as they come, so
10,000 sessions cost no more memory than a hundred.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.triggers.date import DateTrigger
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.blocks import format_duration
from bot.text import mrkdwn_escape, people, plural
from bot.chunking import BLOCKS_PER_MESSAGE, Packer, section, shorten
from bot.config import zone_candidates
from bot.delivery import DIGEST_EVENT, CannotLook, find_marked, metadata, not_sent
from bot.errors import BadInput, MeetopsError, ProviderError
from bot.messaging import cannot_post, once_at_a_time, send_private, slack_error
from bot.providers.base import Capability, Provider, Session
from bot.services import Services
from commands.router import Invocation, Router, Subcommand
from storage import digests as store
from storage import rooms
from storage import sessions as session_log
from storage import summaries as summary_store
from storage import webhooks as recording_store
from storage.digests import DigestRecord
from storage.rooms import RoomRecord

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
BATCH = 100  # sessions looked up in the database at a time (one API page)
RETRY_AFTER = timedelta(minutes=10)  # a digest its platform kept from posting is tried again after this
MESSAGE_BLOCKS = BLOCKS_PER_MESSAGE
EXCERPT_CHARS = 200
ECHO_CHARS = 40  # how much of an unrecognised word is quoted back, as the other subcommands do
USAGE = ("`/meet digest daily 09:00 [Area/City]`, `/meet digest weekly mon 09:00 [Area/City]`, "
         "`/meet digest off` or `/meet digest now`")
DAY_NAMES = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


def job_id(team_id: str, channel_id: str) -> str:
    return f"digest:{team_id}:{channel_id}"


# -- parsing and timing (pure) ------------------------------------------------------------


def echo(text: str) -> str:
    """What the person typed, quoted back safely: escaped, and cut (a 40,000-character word is not repeated)."""
    return mrkdwn_escape(text[:ECHO_CHARS]) + ("…" if len(text) > ECHO_CHARS else "")


# 24-hour `9:00`, `17:30`, `17h`, `17h30`; 12-hour `9am`, `9:30 pm`, `12 p.m.`.
_CLOCK_24 = re.compile(r"([01]?\d|2[0-3])(?::([0-5]\d)|h([0-5]\d)?)")
_CLOCK_12 = re.compile(r"(0?[1-9]|1[0-2])(?::([0-5]\d))? ?([ap])\.?m\.?")
MERIDIEM = ("am", "pm", "a.m.", "p.m.")  # typed as a word of its own: `9 am`


def parse_time(text: str) -> str:
    """`HH:MM` (24-hour) from the ways people write a time of day."""
    written = text.strip().lower()
    if match := _CLOCK_24.fullmatch(written):
        hour, minute = int(match.group(1)), match.group(2) or match.group(3) or "00"
    elif match := _CLOCK_12.fullmatch(written):
        hour = int(match.group(1)) % 12 + (12 if match.group(3) == "p" else 0)
        minute = match.group(2) or "00"
    else:
        raise BadInput(f"`{echo(text)}` is not a time of day. Use HH:MM (24-hour) such as `09:00` or `17:30`, "
                       "or `9am` / `5:30pm`.")
    return f"{hour:02d}:{minute}"


def parse_weekday(text: str) -> int:
    key = text.strip().lower()
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    if key in WEEKDAYS:
        return WEEKDAYS.index(key)
    if key in names:
        return names.index(key)
    raise BadInput(f"`{echo(text)}` is not a day of the week. Use mon, tue, wed, thu, fri, sat or sun.")


def parse_zone(text: str) -> str:
    """An IANA zone from its name in any case or its city alone (`Berlin`, `New York`)."""
    candidates = zone_candidates(text)
    if len(candidates) > 1:
        listed = " or ".join(f"`{zone}`" for zone in candidates)
        raise BadInput(f"`{echo(text)}` could be {listed}. Give the one you mean.")
    if not candidates:
        raise BadInput(f"I don't know the time zone `{echo(text)}`. Use an Area/City name such as "
                       "`Europe/Madrid` or `America/New_York`, or a city such as `Berlin`.")
    return candidates[0]


def next_run(after: datetime, *, cadence: str, at_time: str, tz: str, weekday: int | None = None) -> datetime:
    """The first slot strictly after `after`, as a UTC instant. Slots are wall-clock times in `tz`: a time
    skipped by a DST jump runs at the equivalent instant (an hour later on the clock), an ambiguous one
    once, at its first occurrence."""
    zone = ZoneInfo(tz)
    hour, minute = (int(part) for part in at_time.split(":"))
    today = after.astimezone(zone).date()
    for offset in range(9):
        day = today + timedelta(days=offset)
        if cadence == "weekly" and day.weekday() != weekday:
            continue
        slot = datetime.combine(day, time(hour, minute), tzinfo=zone)
        if slot > after:
            return slot.astimezone(timezone.utc)
    raise AssertionError("a slot within nine days always exists")


def describe(record: DigestRecord) -> str:
    day = f" on {DAY_NAMES[record.weekday]}" if record.cadence == "weekly" else ""
    return f"{record.cadence.capitalize()} digest{day} at {record.at_time} ({record.tz}); the next one is {_next(record)}."


def _next(record: DigestRecord) -> str:
    return record.next_run_at.astimezone(ZoneInfo(record.tz)).strftime("%a %d %b %H:%M")


def schedule_words(record: DigestRecord) -> str:
    """`daily at 09:00 (Europe/Madrid)`, `weekly on Monday at 09:00 (UTC)`."""
    day = f" on {DAY_NAMES[record.weekday]}" if record.cadence == "weekly" else ""
    return f"{record.cadence}{day} at {record.at_time} ({record.tz})"


# -- Block Kit (pure) ---------------------------------------------------------------------


def session_line(session: Session, room_name: str, zone: ZoneInfo, summary: summary_store.SummaryRecord | None,
                 recordings: list[tuple[str, str]], *, summaries: bool = True, deleted: bool = False,
                 counts_links: bool = False) -> str:
    """One session of a digest: room, start in the channel's zone, duration, people, summary, recordings.

    No count of people when none is known (a platform that reports meetings, not people, as the room message
    says then), and no summary line where the room's platform makes none (`summaries`). A summary still to
    come is not promised for a `deleted` room: it went with the room. A platform that `counts_links` counts
    links handed out, not people, and the line says so, as the room message does."""
    start = session.started_at.astimezone(zone).strftime("%a %d %b %H:%M") if session.started_at else "?"
    count = ((f", {plural(session.participants, 'link')} handed out" if counts_links else f", {people(session.participants)}")
             if session.participants else "")
    lines = [f"• *{mrkdwn_escape(room_name)}*, {start}, {format_duration(session.duration_seconds)}{count}"]
    if summary is not None and summary.state == summary_store.POSTED and summary.excerpt:
        more = f" <{summary.permalink}|full summary>" if summary.permalink else ""
        lines.append(f"    _{mrkdwn_escape(shorten(summary.excerpt, EXCERPT_CHARS))}_{more}")
    elif deleted and (summary is None or summary.state in (summary_store.PENDING, summary_store.POSTING)):
        lines.append("    Summary: none (the room was deleted)")
    elif summary is not None or summaries:
        lines.append(f"    Summary: {SUMMARY_STATES.get(summary.state if summary else None)}")
    for label, link in recordings:
        lines.append(f"    :movie_camera: <{link}|{label}>")
    return "\n".join(lines)


SUMMARY_STATES = {
    None: "none requested",
    summary_store.PENDING: "on its way",
    summary_store.POSTING: "on its way",
    summary_store.POSTED: "posted",
    summary_store.GAVE_UP: "not ready in time",
    summary_store.NO_TRANSCRIPT: "none (transcription was off)",
}


def digest_title(channel_id: str, since: datetime, until: datetime, zone: ZoneInfo) -> str:
    fmt = "%a %d %b %H:%M"
    return (f":newspaper: *Meetings in <#{channel_id}>'s rooms*, {since.astimezone(zone).strftime(fmt)} to "
            f"{until.astimezone(zone).strftime(fmt)} ({zone.key})")


def quiet_text(channel_id: str, since: datetime, zone: ZoneInfo) -> str:
    return (f":zzz: No meetings in <#{channel_id}>'s rooms since "
            f"{since.astimezone(zone).strftime('%a %d %b %H:%M')} ({zone.key}).")


def untold_block(titles: list[str]) -> dict:
    """Which of the channel's rooms can't be in a digest, and why, rather than a silent "no meetings"."""
    return {"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"Rooms on {' and '.join(titles)} aren't in digests: meetops is not told when "
                                   "their meetings happen."}]}


def totals_block(count: int, seconds: int) -> dict:
    meetings = "1 meeting" if count == 1 else f"{count} meetings"
    return {"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"{meetings}, {format_duration(seconds)} in all."}]}


# -- building and posting ---------------------------------------------------------------


class _Poster:
    """Posts a digest's messages in order: the first in the channel (marked with `mark`, and its ts handed to
    `on_first`), the rest in its thread."""

    def __init__(self, services: Services, channel_id: str, *, mark: dict | None = None,
                 on_first: Callable[[str], None] = lambda ts: None):
        self.services, self.channel_id = services, channel_id
        self.mark, self.on_first = mark, on_first
        self.thread_ts: str | None = None
        self.count = 0

    async def post(self, messages: list[list[dict]]) -> None:
        for blocks in messages:
            self.count += 1
            text = "Meetings digest" if self.count == 1 else f"Meetings digest (part {self.count})"
            posted = await self.services.slack.chat_postMessage(
                channel=self.channel_id, thread_ts=self.thread_ts, text=text, blocks=blocks, unfurl_links=False,
                **({"metadata": self.mark} if self.mark and self.thread_ts is None else {}))
            if self.thread_ts is None:
                self.thread_ts = posted["ts"]
                self.on_first(posted["ts"])


async def post_digest(services: Services, *, team_id: str, channel_id: str, since: datetime, until: datetime,
                      tz: str, mark: dict | None = None, on_first: Callable[[str], None] = lambda ts: None) -> int:
    """Post the digest of sessions that ended in (since, until]; returns how many sessions it listed.
    `mark` and `on_first` are for the first message (see _Poster)."""
    room_names = store.channel_rooms(services.db, team_id, channel_id)
    platforms = _platforms(services, room_names)
    makes_summaries = {room_id: p is None or Capability.SUMMARIES in p.capabilities
                       for room_id, (_, p) in platforms.items()}
    deleted = {room_id for room_id, (room, _) in platforms.items() if room is not None and room.status == "deleted"}
    counting_links = {room_id for room_id, (_, p) in platforms.items() if p is not None and p.counts_links}
    # Platforms that neither tell meetops about meetings (webhooks) nor list past ones: their rooms can't be in it.
    untold = sorted({p.title for room, p in platforms.values() if p is not None and room.status != "deleted"
                     and Capability.WEBHOOKS not in p.capabilities and Capability.SESSION_HISTORY not in p.capabilities})
    zone = ZoneInfo(tz)
    poster = _Poster(services, channel_id, mark=mark, on_first=on_first)
    packer = Packer(per_message=MESSAGE_BLOCKS)
    count = seconds = 0
    batch: list[Session] = []

    async def flush() -> None:
        ids = [s.id for s in batch]  # the provider's session ids
        found = summary_store.for_sessions(services.db, ids)
        recorded = recording_store.recordings_for(services.db, ids)
        for session in batch:
            links = [await _recording_link(services, row) for row in recorded.get(session.id, [])]
            line = session_line(session, room_names[session.room_id], zone, found.get(session.id),
                                [(f"recording {n}" if len(links) > 1 else "recording", link)
                                 for n, link in enumerate(links, 1) if link],
                                summaries=makes_summaries.get(session.room_id, True),
                                deleted=session.room_id in deleted, counts_links=session.room_id in counting_links)
            await poster.post(packer.add(line))
        batch.clear()

    if room_names:
        await reconcile(services, list(room_names), since, until)
        for record in session_log.ended_between(services.db, list(room_names), _utc(since), _utc(until), batch=BATCH):
            session = Session(id=record.session_id, room_id=record.room_id, started_at=record.started,
                              ended_at=record.ended, live=False, participants=record.participants)
            if count == 0:
                await poster.post(packer.add_block(section(digest_title(channel_id, since, until, zone))))
            count += 1
            seconds += session.duration_seconds or 0
            batch.append(session)
            if len(batch) == BATCH:
                await flush()
    if not count:
        await poster.post([[section(quiet_text(channel_id, since, zone))] + ([untold_block(untold)] if untold else [])])
        return 0
    await flush()
    await poster.post(packer.add_block(totals_block(count, seconds)))
    if untold:
        await poster.post(packer.add_block(untold_block(untold)))
    await poster.post(packer.finish())
    return count


def _platforms(services: Services, room_ids) -> dict[str, tuple[RoomRecord | None, Provider | None]]:
    """Room id -> the room and its platform (None: a room meetops no longer knows, or a platform no longer set up)."""
    found: dict[str, tuple[RoomRecord | None, Provider | None]] = {}
    for room_id in room_ids:
        room = rooms.get(services.db, room_id)
        try:
            found[room_id] = (room, services.provider(room) if room is not None else None)
        except MeetopsError:
            found[room_id] = (room, None)
    return found


def _ended_within(session: Session, since: datetime, until: datetime) -> bool:
    return session.ended_at is not None and since < session.ended_at <= until


def _utc(moment: datetime) -> str:
    """The log's time format: ISO in UTC, so times compare as text."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


async def reconcile(services: Services, room_ids: list[str], since: datetime, until: datetime) -> None:
    """Digests read meetops' own session log; providers that list past meetings fill in what no webhook
    told (a delivery lost while the bot was down), page by page."""
    by_provider: dict[str, set[str]] = {}
    for room_id in room_ids:
        if (room := rooms.get(services.db, room_id)) is not None:
            by_provider.setdefault(room.provider, set()).add(room_id)
    for name, ids in by_provider.items():
        try:
            provider = services.providers.get(name)
        except MeetopsError:
            continue
        if Capability.SESSION_HISTORY not in provider.capabilities:
            continue
        # The API filters by start date; a session that began the day before and ended after `since` counts.
        async for session in provider.iter_sessions(since=(since - timedelta(days=1)).date(), until=until.date()):
            if session.room_id in ids and not session.live and _ended_within(session, since, until):
                session_log.ended(services.db, provider=name, session_id=session.id, room_id=session.room_id,
                                  at=_utc(session.ended_at),
                                  started_at=_utc(session.started_at) if session.started_at else None,
                                  participants=session.participants)


async def _recording_link(services: Services, row: dict) -> str | None:
    """A fresh download link (they expire), else the thread post that had one."""
    room = rooms.get(services.db, row["room_id"])
    try:
        provider = services.provider(room) if room else services.providers.default
        return await provider.recording_link(row["id"]) or row.get("permalink")
    except MeetopsError:
        return row.get("permalink") or row.get("link")


# -- the schedule -------------------------------------------------------------------------


def arm(services: Services, record: DigestRecord, at: datetime | None = None) -> None:
    services.scheduler.add_job(run_digest, DateTrigger(run_date=at or record.next_run_at),
                               args=[services, record.team_id, record.channel_id],
                               id=job_id(record.team_id, record.channel_id), name="digest", replace_existing=True)


def disarm(services: Services, team_id: str, channel_id: str) -> None:
    try:
        services.scheduler.remove_job(job_id(team_id, channel_id))
    except JobLookupError:
        pass


async def run_digest(services: Services, team_id: str, channel_id: str) -> None:
    """The scheduled job (also the start-up catch-up): post what happened since the last digest, arm the next."""
    record = store.get(services.db, team_id, channel_id)
    if record is None:
        return
    now = services.clock()
    upcoming = next_run(now, cadence=record.cadence, at_time=record.at_time, tz=record.tz, weekday=record.weekday)
    again = None
    try:
        count = await _post_covering(services, record, now)
        log.info("posted the %s digest of %s (%d meetings)", record.cadence, channel_id, count)
    except MeetopsError as exc:
        # A platform in trouble (down, rate-limiting): the digest comes a little late rather than a day late.
        again = now + RETRY_AFTER if now + RETRY_AFTER < upcoming else None
        log.warning("the digest of %s waits: %s; %s", channel_id, exc.user_message,
                    f"trying again at {again:%H:%M} UTC" if again else "the next one covers it")
    except SlackApiError as exc:
        # Nobody is waiting on a scheduled digest: tell whoever set it up why it didn't arrive.
        log.warning("digest for %s could not be posted: %s", channel_id, slack_error(exc))
        if record.created_by:
            await send_private(services, user_id=record.created_by, channel_id=None,
                               text=cannot_post(channel_id, exc) +
                               " (Or turn the digest off there with `/meet digest off`.)")
    finally:
        # Whatever happened, the next slot is armed; a digest that failed is covered by the next one.
        store.set_next_run(services.db, team_id, channel_id, upcoming)
        if (record := store.get(services.db, team_id, channel_id)) is not None:
            arm(services, record, at=again)


async def _post_covering(services: Services, record: DigestRecord, until: datetime, *,
                         after_interrupted: bool = False) -> int:
    """Post the digest from where the last one ended to `until`. A digest the process died posting is settled
    first (it is out: not posted again); then, unless `after_interrupted`, this one covers the rest."""
    team_id, channel_id = record.team_id, record.channel_id
    async with once_at_a_time(services, job_id(team_id, channel_id)) as first:
        if not first:
            return 0
        if record.posting_until and await _settle_interrupted(services, record) and not after_interrupted:
            return 0  # the scheduled run that died is out now; the next one starts where it ended
        record = store.get(services.db, team_id, channel_id) or record
        since = record.covered_until or until - PERIODS[record.cadence]
        store.posting(services.db, team_id, channel_id, until=until)
        try:
            count = await post_digest(
                services, team_id=team_id, channel_id=channel_id, since=since, until=until, tz=record.tz,
                mark=metadata(DIGEST_EVENT, until=until.isoformat()),
                on_first=lambda ts: store.first_posted(services.db, team_id, channel_id, ts))
        except BaseException as exc:
            current = store.get(services.db, team_id, channel_id)
            if current is not None and current.posting_ts is None and (isinstance(exc, MeetopsError) or not_sent(exc)):
                # Certainly nothing went out (a platform failed before the first post, or Slack refused it). Else
                # (no answer, a stop) the mark stays, and the next run looks for the post before posting again.
                store.not_posting(services.db, team_id, channel_id)
            raise
        store.covered(services.db, team_id, channel_id, until=until)
        return count


async def _settle_interrupted(services: Services, record: DigestRecord) -> bool:
    """The digest covering up to `record.posting_until` was being posted when the process died. True when it
    went out (its first message is in the channel): that period counts as covered, and its thread says the
    digest may stop short. False when nothing went out: it is posted again as usual."""
    ts = record.posting_ts
    if ts is None:  # died waiting for Slack's answer to the first message: Slack may have taken it
        try:
            found = await find_marked(services, record.channel_id, thread_ts=None, event_type=DIGEST_EVENT,
                                      match=lambda payload: payload.get("until") == record.posting_until)
        except CannotLook:
            found = []
        ts = found[0]["ts"] if found else None
    if ts is None:
        store.not_posting(services.db, record.team_id, record.channel_id)
        return False
    store.covered(services.db, record.team_id, record.channel_id, until=datetime.fromisoformat(record.posting_until))
    try:
        await services.slack.chat_postMessage(
            channel=record.channel_id, thread_ts=ts,
            text="This digest was interrupted while it was being posted (meetops stopped, or Slack refused a part), "
                 "so its end may be missing. The next digest starts where this one's period ends.")
    except SlackApiError as exc:
        log.info("could not note the interrupted digest in %s: %s", record.channel_id, slack_error(exc))
    return True


async def on_start(services: Services) -> None:
    """Re-arm every channel's digest; one whose slot passed while the bot was down runs once, now."""
    now = services.clock()
    for record in store.all_digests(services.db):
        arm(services, record, at=max(record.next_run_at, now))


# -- /meet digest -------------------------------------------------------------------------


async def digest_command(inv: Invocation) -> None:
    services, words = inv.services, [w for w in inv.args]
    if inv.channel_id.startswith("D"):
        raise BadInput("Digests are per channel: run `/meet digest` in the channel whose rooms it should cover.")
    record = store.get(services.db, inv.team_id, inv.channel_id)
    verb = words[0].lower() if words else ""
    if not verb:
        await inv.reply(describe(record) if record else f"This channel has no digest. Set one up with {USAGE}.")
    elif verb == "off":
        if record is None:
            await inv.reply("This channel has no digest to turn off.")
            return
        store.delete(services.db, inv.team_id, inv.channel_id)
        disarm(services, inv.team_id, inv.channel_id)
        try:
            await announce(inv, f":newspaper: <@{inv.user_id}> turned off this channel's meeting digest.")
        except BadInput:
            await inv.reply("Digest turned off for this channel.")
    elif verb == "now":
        await digest_now(inv, record)
    elif verb in PERIODS:
        await schedule(inv, verb, words[1:])
    else:
        raise BadInput(f"I don't know `{echo(words[0])}`. Use {USAGE}.")


async def digest_now(inv: Invocation, record: DigestRecord | None) -> None:
    services, now = inv.services, inv.services.clock()
    try:
        if record is None:  # no schedule: the last day, remembered nowhere
            tz = await _person_zone(inv)
            count = await post_digest(services, team_id=inv.team_id, channel_id=inv.channel_id,
                                      since=now - PERIODS["daily"], until=now, tz=tz)
        else:  # the next scheduled digest then starts from here
            count = await _post_covering(services, record, now, after_interrupted=True)
    except SlackApiError as exc:
        raise BadInput(cannot_post(inv.channel_id, exc)) from None
    await inv.reply(f"Posted the digest ({plural(count, 'meeting')}).")


async def schedule(inv: Invocation, cadence: str, words: list[str]) -> None:
    weekday = None
    if cadence == "weekly":
        if not words:
            raise BadInput("Which day? For example `/meet digest weekly mon 09:00`.")
        weekday, words = parse_weekday(words[0]), words[1:]
    if not words:
        raise BadInput(f"Give the time of day and, if you like, a time zone. Use {USAGE}.")
    if len(words) > 1 and words[1].lower() in MERIDIEM:  # `9 am`
        words = [f"{words[0]}{words[1]}", *words[2:]]
    at_time = parse_time(words[0])
    # The rest names the zone, a city of two words included (`New York`).
    tz = parse_zone(" ".join(words[1:])) if len(words) > 1 else await _person_zone(inv)
    services = inv.services
    upcoming = next_run(services.clock(), cadence=cadence, at_time=at_time, tz=tz, weekday=weekday)
    record = DigestRecord(team_id=inv.team_id, channel_id=inv.channel_id, cadence=cadence, weekday=weekday,
                          at_time=at_time, tz=tz, next_run=upcoming.isoformat(), created_by=inv.user_id)
    previous = store.get(services.db, inv.team_id, inv.channel_id)
    if previous is not None and schedule_words(previous) == schedule_words(record):
        await inv.reply(f"Nothing to change: this channel already has that digest. {describe(previous)}")
        return
    if previous is not None and previous.last_covered_until:
        record.last_covered_until = previous.last_covered_until
    else:  # the first digest covers the period before its slot
        record.last_covered_until = (upcoming - PERIODS[cadence]).isoformat()
    # Announced in the channel: everyone there gets it, and it proves the bot can post there.
    if previous is None:
        await announce(inv, f":newspaper: <@{inv.user_id}> set up this channel's meeting digest. {describe(record)} "
                            "It lists the meetings of this channel's rooms since the previous digest.")
    else:
        await announce(inv, f":newspaper: <@{inv.user_id}> changed this channel's meeting digest from "
                            f"{schedule_words(previous)} to {schedule_words(record)}; the next one is {_next(record)}.")
    store.save(services.db, record)
    arm(services, record)


async def announce(inv: Invocation, text: str) -> None:
    try:
        await inv.client.chat_postMessage(channel=inv.channel_id, text=text)
    except SlackApiError as exc:
        raise BadInput(cannot_post(inv.channel_id, exc)) from None


async def _person_zone(inv: Invocation) -> str:
    """The person's Slack time zone, else the bot's default."""
    tz = (await inv.services.people.get(inv.user_id)).tz
    try:
        return parse_zone(tz) if tz else inv.services.settings.meetops_timezone
    except BadInput:
        return inv.services.settings.meetops_timezone


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("digest", digest_command,
                          "/meet digest daily <HH:MM> [Area/City] | weekly <day> <HH:MM> [Area/City] | off | now",
                          "a daily or weekly digest of this channel's meetings"))

