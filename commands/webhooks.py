"""`POST /webhooks/<provider>`: a provider telling the bot what happened in its rooms.

Each provider verifies a delivery its own way (`Provider.webhook_adapter()`: a shared token, an HMAC of
the raw body, a signed timestamp), in constant time, before its body is parsed; anything else gets 401
and changes nothing. The adapter turns the delivery into neutral events (`ProviderEvent`), each handled
once per provider dedupe key by the handlers below, whatever the provider.

The answer is fast: what must survive a crash (the dedupe claim, the room's new state, the session
log, a pending summary row) is written to SQLite before the 200, in milliseconds; the Slack and provider
calls then run in a tracked background task. So a slow Slack never makes the provider time out and
retry, and if the process dies after the 200 the pending summary is re-armed at the next start.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Coroutine

from slack_bolt.async_app import AsyncApp
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.blocks import recording_ready_blocks, room_status_text
from bot.errors import MeetopsError, ProviderError, ProviderNotFound
from bot.meetings import refresh_room_message, streaming_to
from bot.providers.base import Capability, EventKind, Provider, ProviderEvent, SummaryStatus
from bot.services import Services
from bot.text import mrkdwn_escape, slack_date
from commands import summaries
from commands.router import Router
from storage import recording_state, restreams, rooms
from storage import sessions as session_log
from storage import summaries as summary_store
from storage import webhooks as store
from storage.rooms import RoomRecord

log = logging.getLogger(__name__)

Work = Coroutine[Any, Any, None]
MAX_BODY = 1024 * 1024  # no provider's delivery comes near this


async def _read_capped(request: Request) -> bytes | None:
    """The raw body, or None when it is larger than MAX_BODY (read no further than that)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def handle_webhook(services: Services, provider_name: str, request: Request) -> Response:
    provider = services.providers.providers.get(provider_name)
    adapter = provider.webhook_adapter() if provider is not None else None
    if adapter is None:
        log.warning("webhook for %s refused: no such provider or no webhook secret set up",
                    provider_name[:40] if provider is None else provider.name)
        return JSONResponse({"ok": False, "error": "unauthorized"}, status_code=401)
    raw = await _read_capped(request)
    if raw is None:
        return JSONResponse({"ok": False, "error": "too large"}, status_code=413)
    if not adapter.verify(request.headers, raw, services.clock()):
        log.warning("%s webhook refused: missing or wrong signature (%d bytes)", provider.name, len(raw))
        return JSONResponse({"ok": False, "error": "unauthorized"}, status_code=401)
    try:
        events = adapter.parse(raw)
    except (ValueError, TypeError):
        log.info("%s webhook with a body that isn't a delivery (%d bytes); refused", provider.name, len(raw))
        return JSONResponse({"ok": False, "error": "expected a JSON object"}, status_code=400)
    if not events:
        log.info("%s webhook ignored (no event meetops uses)", provider.name)
        return JSONResponse({"ok": True, "ignored": True})
    work: list[Work] = []
    try:
        # Seen-marks and the handlers' writes commit together: if handling fails, the provider's
        # retry of this delivery is not mistaken for a duplicate.
        with services.db.atomic():
            for event in events:
                if not store.first_event(services.db, provider.name, event.dedupe_key):
                    log.info("%s webhook %s seen before; ignored", provider.name, event.kind)
                    continue
                room = _room(services, provider, event)
                if room is None:
                    log.info("%s webhook %s for a room meetops doesn't know; ignored", provider.name, event.kind)
                    continue
                job = HANDLERS[event.kind](services, provider, event, room)
                if job is not None:
                    work.append(job)
    except Exception:
        log.exception("%s webhook failed; asking for a retry", provider.name)
        for job in work:
            job.close()
        return JSONResponse({"ok": False, "error": "try again"}, status_code=500)
    for job in work:
        # Services.spawn logs, with its traceback, whatever this work fails with.
        services.spawn(job, name=f"{provider.name} webhook work")
    return JSONResponse({"ok": True})


def _room(services: Services, provider: Provider, event: ProviderEvent) -> RoomRecord | None:
    """The bot's room the event is about; None for rooms made elsewhere (acknowledged, ignored)."""
    room = rooms.by_provider_id(services.db, provider.name, event.room_id) if event.room_id else None
    if room is None and event.session_id:
        room = rooms.by_session(services.db, event.session_id)
        if room is not None and room.provider != provider.name:
            room = None
        if room is None and (known := session_log.get(services.db, provider.name, event.session_id)):
            room = rooms.get(services.db, known.room_id)
    return room


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat(
        timespec="seconds")


# -- the events (each: the database part now, the Slack/provider part as returned work) ----


def session_started(services: Services, provider: Provider, e: ProviderEvent, room: RoomRecord) -> Work | None:
    session_log.started(services.db, provider=provider.name, session_id=e.session_id, room_id=room.id,
                        at=_iso(e.started_at or e.at) or _now(services))
    if room.status == "deleted" or (room.status == "live" and room.session_id == e.session_id):
        return None  # deleted, or arriving after someone's participant_joined already made it live
    if room.status == "ended" and room.session_id == e.session_id and not _began_after_end(e, room):
        return None  # a late delivery for a session already over (a platform may repeat it with the recording)
    room = rooms.update(services.db, room.id, status="live", session_id=e.session_id, participants=e.participants or 0,
                        ended_by=None, session_started_at=_iso(e.started_at) or _now(services),
                        session_ended_at=None)
    return _refresh(services, room.id)


def _began_after_end(e: ProviderEvent, room: RoomRecord) -> bool:
    """Whether the event's session began after the room's last one ended: a new meeting under the same
    id (providers whose meeting id is the room's), not a late word about the one that is over."""
    began = _iso(e.started_at or e.at)
    if began is None or not room.session_ended_at:
        return False
    return datetime.fromisoformat(began) > datetime.fromisoformat(room.session_ended_at)


def participant_joined(services: Services, provider: Provider, e: ProviderEvent, room: RoomRecord) -> Work | None:
    if room.status == "deleted" or (room.status == "ended" and room.session_id == e.session_id):
        return None  # a late delivery for a session already over
    if room.session_id == e.session_id and room.status == "live":
        room = rooms.update(services.db, room.id, participants=room.participants + 1)
    else:  # session_started was missed
        session_log.started(services.db, provider=provider.name, session_id=e.session_id, room_id=room.id,
                            at=_now(services))
        room = rooms.update(services.db, room.id, status="live", session_id=e.session_id, participants=1,
                            ended_by=None, session_started_at=_now(services), session_ended_at=None)
    session_log.set_participants(services.db, provider.name, e.session_id, room.participants)
    return _refresh(services, room.id)


def participant_left(services: Services, provider: Provider, e: ProviderEvent, room: RoomRecord) -> Work | None:
    if room.status != "live" or room.session_id != e.session_id:
        return None
    room = rooms.update(services.db, room.id, participants=max(0, room.participants - 1))
    return _refresh(services, room.id)


def session_ended(services: Services, provider: Provider, e: ProviderEvent, room: RoomRecord) -> Work | None:
    work = None
    newer_session_live = room.status == "live" and room.session_id not in (None, e.session_id)
    same = room.session_id == e.session_id
    ended_at = _iso(e.ended_at or e.at) or _now(services)
    started_at = _iso(e.started_at) or (room.session_started_at if same else None)
    count = e.participants if e.participants is not None else (room.participants or 0)
    session_log.ended(services.db, provider=provider.name, session_id=e.session_id, room_id=room.id, at=ended_at,
                      started_at=started_at, participants=count)
    if room.status != "deleted" and not newer_session_live:
        shown = room_status_text(room), streaming_to(services, room.id)
        room = rooms.update(
            services.db, room.id, status="ended", session_id=e.session_id, session_started_at=started_at,
            session_ended_at=ended_at, participants=count, ended_by=room.ended_by if same else None)
        restreams.stop_all_in_room(services.db, room.id)  # the stream ended with the session
        recording_state.stop(services.db, room.id)  # and so did a recording
        if shown != (room_status_text(room), None):  # unchanged when meetops ended it and already said so
            work = _refresh(services, room.id)
    if Capability.SUMMARIES in provider.capabilities:
        summaries.session_over(services, room, e.session_id)
    return work


def summary_ready(services: Services, provider: Provider, e: ProviderEvent, room: RoomRecord) -> Work | None:
    record = summary_store.get(services.db, e.session_id)
    if record is None:
        known = session_log.get(services.db, provider.name, e.session_id) or room.session_id == e.session_id
        if not known:
            # A session meetops never saw (made elsewhere, or before meetops): nothing to say in the thread.
            log.info("%s: a summary is ready for a session meetops never saw; ignored", provider.name)
            return None
        if room.auto_summary:
            record = summaries.want(services, room, e.session_id)
    if record is None or record.state != summary_store.PENDING:
        return None
    if e.summary:
        return _post_delivered_summary(services, record, e)
    return _fetch_ready_summary(services, record)


async def _post_delivered_summary(services: Services, record: summary_store.SummaryRecord, e: ProviderEvent) -> None:
    """The delivery carries the summary itself: posted through the same once-only path."""
    text = e.summary or ""
    if e.action_items:
        text += "\n\nAction items:\n" + "\n".join(f"• {item}" for item in e.action_items)
    await summaries.post_summary(services, record, text)


async def _fetch_ready_summary(services: Services, record: summary_store.SummaryRecord) -> None:
    """One GET, no polling: it says READY. If it somehow isn't yet, the poll job carries on."""
    try:
        status = await summaries.check(services, record)
    except ProviderError as exc:
        log.warning("fetching the ready summary of %s failed: %s", record.session_id, exc.user_message)
        status = SummaryStatus.IN_PROGRESS
    if status == SummaryStatus.IN_PROGRESS and not summaries.is_armed(services, record.session_id):
        if (current := summary_store.get(services.db, record.session_id)) and current.state == summary_store.PENDING:
            summaries.arm(services, current)


def recording_ready(services: Services, provider: Provider, e: ProviderEvent, room: RoomRecord) -> Work | None:
    work: list[Work] = []
    if recording_state.stop(services.db, room.id):  # ready means it stopped, wherever it was stopped
        work.append(_refresh(services, room.id))
    recording_id = e.recording_id or f"{e.session_id}:{e.dedupe_key}"
    if room.message_channel and room.message_ts and store.claim_recording(
            services.db, recording_id, session_id=e.session_id, room_id=room.id):
        work.append(_post_recording(services, provider, e, room, recording_id))
    if e.summary:  # the provider delivers the meeting's summary with its recording (same once-only path)
        if (job := summary_ready(services, provider, e, room)) is not None:
            work.append(job)
    if not work:
        return None
    return _all(work)


async def _all(work: list[Work]) -> None:
    for job in work:
        await job


async def _post_recording(services: Services, provider: Provider, e: ProviderEvent, room: RoomRecord,
                          recording_id: str) -> None:
    started = summaries.meeting_start(services, room.id, e.session_id)
    which = f"the meeting of {slack_date(started)}" if started else "this meeting"
    if not e.recording_url and Capability.RECORDING_LINKS in provider.capabilities and e.recording_id:
        await _post_recording_button(services, provider, e, room, recording_id, which)
        return
    try:
        link = e.recording_url or await provider.recording_link(recording_id)
        text = (f":movie_camera: The recording of {which} is ready: <{link}|download it> ({provider.title}'s "
                f"download links expire; `/meet recordings {room.friendly_url}` gets a fresh one).")
    except ProviderNotFound:
        link = ""
        text = (f":movie_camera: {provider.title} said a recording of {which} was ready, but it can't find it "
                "now (it may have been deleted there).")
    except MeetopsError as exc:
        link = ""
        text = (f":movie_camera: The recording of {which} is ready, but I couldn't get its link: "
                f"{exc.user_message}")
    try:
        posted = await services.slack.chat_postMessage(channel=room.message_channel, thread_ts=room.message_ts,
                                                       unfurl_links=False, text=text)
    except Exception:
        # Nothing went out: forget the delivery so the provider's retry (or a resend) can try again.
        store.forget_recording(services.db, recording_id, provider=provider.name, dedupe_key=e.dedupe_key)
        raise
    permalink = await summaries.permalink(services, posted["channel"], posted["ts"])
    store.recording_posted(services.db, recording_id, link=link, message_ts=posted["ts"], permalink=permalink)


async def _post_recording_button(services: Services, provider: Provider, e: ProviderEvent, room: RoomRecord,
                                 recording_id: str, which: str) -> None:
    """No link in the delivery: a button asks the provider for a fresh one whenever someone clicks it
    (download links may expire) and shows it to that person only."""
    text = f":movie_camera: The recording of {which} is ready."
    try:
        posted = await services.slack.chat_postMessage(
            channel=room.message_channel, thread_ts=room.message_ts, unfurl_links=False, text=text,
            blocks=recording_ready_blocks(f"{text} *Get recording* shows you its download link.", recording_id))
    except Exception:
        store.forget_recording(services.db, recording_id, provider=provider.name, dedupe_key=e.dedupe_key)
        raise
    permalink = await summaries.permalink(services, posted["channel"], posted["ts"])
    store.recording_posted(services.db, recording_id, link="", message_ts=posted["ts"], permalink=permalink)


async def _refresh(services: Services, room_id: str) -> None:
    if (room := rooms.get(services.db, room_id)) is not None:
        await refresh_room_message(services, room)


def _now(services: Services) -> str:
    return services.clock().isoformat(timespec="seconds")


HANDLERS: dict[EventKind, Callable[[Services, Provider, ProviderEvent, RoomRecord], Work | None]] = {
    EventKind.SESSION_STARTED: session_started,
    EventKind.PARTICIPANT_JOINED: participant_joined,
    EventKind.PARTICIPANT_LEFT: participant_left,
    EventKind.SESSION_ENDED: session_ended,
    EventKind.SUMMARY_READY: summary_ready,
    EventKind.RECORDING_READY: recording_ready,
}


DEDUPE_DAYS = 30  # how long a delivery is remembered as seen


async def on_start(services: Services) -> None:
    before = (services.clock() - timedelta(days=DEDUPE_DAYS)).isoformat(timespec="seconds")
    if pruned := store.prune_deliveries(services.db, before):
        log.info("forgot %d webhook deliveries older than %d days", pruned, DEDUPE_DAYS)




def register(app: AsyncApp, router: Router) -> None:
    """Nothing on the Slack side: the endpoint is a route of the ASGI app (bot.server)."""
