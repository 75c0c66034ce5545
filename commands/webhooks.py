"""`POST /webhooks/digitalsamba`: Digital Samba telling the bot what happened in its rooms.

Deliveries authenticate with the `Authorization` header, which Digital Samba sets to the
`authorization_header` given when the webhook was registered (no HMAC signature); it is
compared in constant time with DS_WEBHOOK_TOKEN (or the sandbox's own token). Anything
else gets 401 and changes nothing.

The answer is fast: what must survive a crash (the dedupe claim, the room's new state, a
pending summary row and its job) is written to SQLite before the 200, in milliseconds;
the Slack and provider calls then run in a tracked background task. So a slow Slack never
makes Digital Samba time out and retry, and if the process dies after the 200 the pending
summary is re-armed from the database at the next start.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Coroutine

from slack_bolt.async_app import AsyncApp
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import safejson
from bot.errors import ProviderError
from bot.blocks import room_status_text
from bot.text import slack_date
from bot.meetings import refresh_room_message, streaming_to
from bot.providers.base import SummaryStatus
from bot.services import Services
from commands import summaries
from commands.router import Router
from storage import restreams, rooms
from storage import summaries as summary_store
from storage import webhooks as store
from storage.rooms import RoomRecord

log = logging.getLogger(__name__)

Work = Coroutine[Any, Any, None]


@dataclass(frozen=True)
class Delivery:
    event: str
    session_id: str
    room_id: str
    data: dict

    @property
    def ref(self) -> str:
        """What besides (event, session) makes a delivery distinct: the participant or the recording."""
        return str(self.data.get("participant_id") or self.data.get("recording_id") or "")


def parse(body: Any) -> Delivery | None:
    """`{"event", "timestamp", "data": {...}}`, leniently: `type` for `event`, ids at the top level too."""
    if not isinstance(body, dict):
        return None
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    merged = {**{k: v for k, v in body.items() if k != "data"}, **data}
    event = str(body.get("event") or body.get("type") or "").strip().lower().replace(".", "_").replace("-", "_")
    return Delivery(event=event, session_id=_id(merged, "session"), room_id=_id(merged, "room"), data=merged)


def _id(data: dict, kind: str) -> str:
    """`session_id`, or `session: {"id"}`."""
    value = data.get(f"{kind}_id")
    if not value and isinstance(data.get(kind), dict):
        value = data[kind].get("id")
    return str(value or "")


def authorized(services: Services, header: str | None) -> bool:
    expected = services.webhook_token
    if not expected or not header:
        return False
    return hmac.compare_digest(header.encode(), expected.encode())


async def handle_webhook(services: Services, request: Request) -> Response:
    if not authorized(services, request.headers.get("authorization")):
        log.warning("webhook refused: missing or wrong Authorization header")
        return JSONResponse({"ok": False, "error": "unauthorized"}, status_code=401)
    try:
        delivery = parse(safejson.loads(await request.body()))
    except ValueError:
        delivery = None
    if delivery is None:
        return JSONResponse({"ok": False, "error": "expected a JSON object"}, status_code=400)
    handler = HANDLERS.get(delivery.event)
    if handler is None or not delivery.session_id:
        log.info("webhook %s ignored", delivery.event or "(no event name)")
        return JSONResponse({"ok": True, "ignored": True})
    try:
        # Seen-mark and the handler's writes commit together: if handling fails, Digital Samba's
        # retry of this delivery is not mistaken for a duplicate.
        with services.db.atomic():
            if not store.first_delivery(services.db, delivery.event, delivery.session_id, delivery.ref):
                log.info("webhook %s for session %s seen before; ignored", delivery.event, delivery.session_id)
                return JSONResponse({"ok": True, "duplicate": True})
            room = _room(services, delivery)
            work = handler(services, delivery, room) if room is not None else None
    except Exception:
        log.exception("webhook %s for session %s failed; asking for a retry", delivery.event, delivery.session_id)
        return JSONResponse({"ok": False, "error": "try again"}, status_code=500)
    if work is not None:
        # Services.spawn logs, with its traceback, whatever this work fails with.
        services.spawn(work, name=f"webhook {delivery.event} for session {delivery.session_id}")
    return JSONResponse({"ok": True})


def _room(services: Services, delivery: Delivery) -> RoomRecord | None:
    """The bot's room the delivery is about; None for rooms made elsewhere (acknowledged, ignored)."""
    return (rooms.get(services.db, delivery.room_id) if delivery.room_id else None) or rooms.by_session(
        services.db, delivery.session_id)


def _iso(value: Any) -> str | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat(timespec="seconds")


# -- the events (each: the database part now, the Slack/provider part as returned work) ----


def session_started(services: Services, d: Delivery, room: RoomRecord) -> Work | None:
    if room.status == "deleted" or (room.status == "live" and room.session_id == d.session_id):
        return None  # deleted, or arriving after someone's participant_joined already made it live
    room = rooms.update(services.db, room.id, status="live", session_id=d.session_id, participants=0,
                        ended_by=None, session_started_at=_iso(d.data.get("start_time")) or _now(services),
                        session_ended_at=None)
    return _refresh(services, room.id)


def participant_joined(services: Services, d: Delivery, room: RoomRecord) -> Work | None:
    if room.status == "deleted" or (room.status == "ended" and room.session_id == d.session_id):
        return None  # a late delivery for a session already over
    if room.session_id == d.session_id and room.status == "live":
        room = rooms.update(services.db, room.id, participants=room.participants + 1)
    else:  # session_started was missed
        room = rooms.update(services.db, room.id, status="live", session_id=d.session_id, participants=1,
                            ended_by=None, session_started_at=_now(services), session_ended_at=None)
    return _refresh(services, room.id)


def participant_left(services: Services, d: Delivery, room: RoomRecord) -> Work | None:
    if room.status != "live" or room.session_id != d.session_id:
        return None
    room = rooms.update(services.db, room.id, participants=max(0, room.participants - 1))
    return _refresh(services, room.id)


def session_ended(services: Services, d: Delivery, room: RoomRecord) -> Work | None:
    work = None
    newer_session_live = room.status == "live" and room.session_id not in (None, d.session_id)
    if room.status != "deleted" and not newer_session_live:
        same = room.session_id == d.session_id
        shown = room_status_text(room), streaming_to(services, room.id)
        room = rooms.update(
            services.db, room.id, status="ended", session_id=d.session_id,
            session_started_at=_iso(d.data.get("start_time")) or (room.session_started_at if same else None),
            session_ended_at=_iso(d.data.get("end_time")) or _now(services),
            participants=_count(d.data.get("participants_total"), default=room.participants or 0),
            ended_by=room.ended_by if same else None)
        restreams.stop_all_in_room(services.db, room.id)  # the stream ended with the session
        if shown != (room_status_text(room), None):  # unchanged when meetops ended it and already said so
            work = _refresh(services, room.id)
    summaries.session_over(services, room, d.session_id)
    return work


def session_summary_ready(services: Services, d: Delivery, room: RoomRecord) -> Work | None:
    record = summary_store.get(services.db, d.session_id)
    if record is None and room.auto_summary:
        record = summaries.want(services, room, d.session_id)
    if record is None or record.state != summary_store.PENDING:
        return None
    return _fetch_ready_summary(services, record)


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


def recording_ready(services: Services, d: Delivery, room: RoomRecord) -> Work | None:
    recording_id = str(d.data.get("recording_id") or d.data.get("id") or "")
    if not (recording_id and room.message_channel and room.message_ts):
        return None
    if not store.claim_recording(services.db, recording_id, session_id=d.session_id, room_id=room.id):
        return None
    return _post_recording(services, d, room, recording_id)


async def _post_recording(services: Services, d: Delivery, room: RoomRecord, recording_id: str) -> None:
    try:
        link = await services.meetings.recording_link(recording_id)
        started = summaries.meeting_start(services, room.id, d.session_id)
        which = f"the meeting of {slack_date(started)}" if started else "this meeting"
        posted = await services.slack.chat_postMessage(
            channel=room.message_channel, thread_ts=room.message_ts, unfurl_links=False,
            text=f":movie_camera: The recording of {which} is ready: <{link}|download it> "
                 "(Digital Samba's download links expire; the channel's digest carries a fresh one).")
    except Exception:
        # Nothing went out: forget the delivery so Digital Samba's retry (or a resend) can try again.
        store.forget_recording(services.db, recording_id, event=d.event, session_id=d.session_id, ref=d.ref)
        raise
    permalink = await summaries.permalink(services, posted["channel"], posted["ts"])
    store.recording_posted(services.db, recording_id, link=link, message_ts=posted["ts"], permalink=permalink)


async def _refresh(services: Services, room_id: str) -> None:
    if (room := rooms.get(services.db, room_id)) is not None:
        await refresh_room_message(services, room)


def _count(value: Any, *, default: int) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


def _now(services: Services) -> str:
    return services.clock().isoformat(timespec="seconds")


HANDLERS: dict[str, Callable[[Services, Delivery, RoomRecord], Work | None]] = {
    "session_started": session_started,
    "participant_joined": participant_joined,
    "participant_left": participant_left,
    "session_ended": session_ended,
    "session_summary_ready": session_summary_ready,
    "recording_ready": recording_ready,
}


DEDUPE_DAYS = 30  # how long a delivery is remembered as seen


async def on_start(services: Services) -> None:
    before = (services.clock() - timedelta(days=DEDUPE_DAYS)).isoformat(timespec="seconds")
    if pruned := store.prune_deliveries(services.db, before):
        log.info("forgot %d webhook deliveries older than %d days", pruned, DEDUPE_DAYS)


# What `meetops webhooks register` subscribes to: exactly the events handled here.
WEBHOOK_EVENTS = list(HANDLERS)


def register(app: AsyncApp, router: Router) -> None:
    """Nothing on the Slack side: the endpoint is a route of the ASGI app (bot.server)."""
