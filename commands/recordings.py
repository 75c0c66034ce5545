"""`/meet recordings <room>`: the room's recordings, each with a download link.

Where the provider has shareable recording links they are handed out as they are. Where it has none
(some keep recordings behind the bot's own credentials), meetops serves the file itself: the link
is a signed, expiring meetops URL (`bot.downloads`), and `serve_download` streams the file from the
provider with the bot's credentials, so no provider token ever reaches Slack.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from datetime import timedelta

from slack_bolt.async_app import AsyncApp
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from bot import downloads
from bot.errors import BadInput, ProviderError, ProviderNotFound, ProviderRejected
from bot.meetings import as_provider_room
from bot.providers.base import Capability
from bot.services import Services
from bot.text import mrkdwn_escape, plural
from commands.router import Invocation, Router, Subcommand
from storage import rooms

log = logging.getLogger(__name__)

MAX_LISTED = 50


def download_secret(services: Services) -> bytes:
    configured = services.settings.meetops_download_secret
    return configured.get_secret_value().encode() if configured else services.download_secret


def public_url(services: Services) -> str:
    settings = services.settings
    return (settings.meetops_public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def _size(size: int | None) -> str:
    if not size:
        return ""
    return f", {size / 1_000_000:.1f} MB" if size >= 100_000 else f", {max(1, size // 1000)} kB"


async def recordings_command(inv: Invocation) -> None:
    if not inv.args:
        raise BadInput("Which room? For example `/meet recordings standup`.")
    services = inv.services
    room = await inv.room(" ".join(inv.args))
    provider = services.provider(room)
    provider.require(Capability.RECORDING_LINKS)
    now = services.clock()
    lifetime = timedelta(hours=services.settings.meetops_download_hours)
    lines = []
    async for recording in provider.iter_recordings(as_provider_room(room)):
        if len(lines) >= MAX_LISTED:
            break
        when = (f"<!date^{int(recording.created_at.timestamp())}^{{date_short_pretty}} {{time}}|"
                f"{recording.created_at:%d %b %H:%M} UTC>") if recording.created_at else "date unknown"
        label = mrkdwn_escape(recording.name or "recording")
        if provider.serves_recordings_through_meetops:
            url, _ = downloads.link(public_url(services), download_secret(services), room_id=room.id,
                                    recording_id=recording.id, now=now, lifetime=lifetime)
        else:
            try:
                url = recording.url or await provider.recording_link(recording.id)
            except ProviderRejected:  # still being recorded or processed: the others are listed all the same
                lines.append(f"• {label} ({when}): not ready yet, it is still being recorded or processed")
                continue
        lines.append(f"• <{url}|{label}> ({when})")
    name = mrkdwn_escape(room.name)
    if not lines:
        how = (f"Start one with *Record* on the room message or `/meet record {room.friendly_url}` while people are "
               "in the meeting" if Capability.RECORDING in provider.capabilities
               else "Recordings are started from inside the meeting")
        await inv.reply(f"*{name}* has no recordings yet. {how}; they show up here once they are stored.")
        return
    expiry = (f" The download links work for {services.settings.meetops_download_hours:g} hours and only "
              "through meetops." if provider.serves_recordings_through_meetops else "")
    await inv.reply_list(f"*{plural(len(lines), 'recording')} of {name}*.{expiry}", lines)


async def serve_download(services: Services, request: Request) -> Response:
    """GET /downloads/<token>: the signature and expiry are checked before anything is looked up; a bad
    or expired link gets 403 and nothing is streamed."""
    try:
        ref = downloads.verify(download_secret(services), request.path_params.get("token", ""), now=services.clock())
    except downloads.BadLink as bad:
        log.info("download link refused: %s", bad.reason)
        return PlainTextResponse("This download link has expired or is not valid. Ask for a fresh one with "
                                 "/meet recordings in Slack.", status_code=403)
    room = rooms.get(services.db, ref.room_id)
    if room is None or room.status == "deleted":
        return PlainTextResponse("This room no longer exists, and its recordings went with it.", status_code=404)
    provider = services.provider(room)
    stack = AsyncExitStack()
    try:
        download = await stack.enter_async_context(provider.open_recording(as_provider_room(room), ref.recording_id))
    except ProviderNotFound:
        await stack.aclose()
        return PlainTextResponse("This recording no longer exists.", status_code=404)
    except ProviderError as exc:
        await stack.aclose()
        return PlainTextResponse(exc.user_message, status_code=502)

    async def body():
        async with stack:
            async for chunk in download.chunks:
                yield chunk

    safe_name = "".join(c for c in download.filename if c.isalnum() or c in "._- ")[:120] or "recording"
    headers = {"Content-Disposition": f'attachment; filename="{safe_name}"', "Cache-Control": "no-store",
               "X-Content-Type-Options": "nosniff"}
    if download.size is not None:
        headers["Content-Length"] = str(download.size)
    return StreamingResponse(body(), media_type=download.content_type, headers=headers)


def register(app: AsyncApp, router: Router) -> None:
    router.add(Subcommand("recordings", recordings_command, "/meet recordings <room>",
                          "the room's recordings, with download links"))
