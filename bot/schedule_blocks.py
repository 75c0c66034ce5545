"""Scheduled meetings in Block Kit: the form, reading and checking it, the meeting message, the reminder
and the upcoming list. Pure functions (no Slack, no provider, no database)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import ids
from bot.config import zone_candidates
from bot.names import clean
from bot.recurrence import Repeat, describe
from bot.text import mrkdwn_escape

# ids of the form and its inputs (block id = action id)
SCHEDULE_MODAL = "schedule_modal"
TITLE = "schedule_title"
DATE = "schedule_date"
TIME = "schedule_time"
DURATION = "schedule_duration"
ZONE = "schedule_zone"
REPEAT = "schedule_repeat"
INVITEES = "schedule_invitees"
JOIN = ids.JOIN  # the room message's Join: a scheduled meeting's room is a room like any other

MAX_TITLE = 255
MAX_DURATION = timedelta(hours=24)
REMINDER_BEFORE = timedelta(minutes=10)
REPEAT_LABELS = {
    Repeat.NEVER: "Never",
    Repeat.DAILY: "Every day",
    Repeat.WEEKDAYS: "Every weekday (Mon–Fri)",
    Repeat.WEEKLY: "Every week on the chosen day",
    Repeat.MONTHLY: "Every month on the chosen date",
}


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def _input(block_id: str, label: str, element: dict, *, optional: bool = False, hint: str | None = None) -> dict:
    block = {"type": "input", "block_id": block_id, "label": _plain(label),
             "element": {**element, "action_id": block_id}, "optional": optional}
    if hint:
        block["hint"] = _plain(hint)
    return block


def schedule_modal(*, zone: str, today: date, metadata: str, provider_title: str) -> dict:
    """The `/meet schedule` form. `zone`: the person's Slack time zone, the default."""
    repeat_options = [{"text": _plain(label), "value": str(value)} for value, label in REPEAT_LABELS.items()]
    return {
        "type": "modal",
        "callback_id": SCHEDULE_MODAL,
        "private_metadata": metadata,
        "title": _plain("Schedule a meeting"),
        "submit": _plain("Schedule"),
        "close": _plain("Cancel"),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"A meeting on {mrkdwn_escape(provider_title)}, "
                                         "with its own room. Invitees get a calendar invitation by e-mail."}},
            _input(TITLE, "Title", {"type": "plain_text_input", "max_length": MAX_TITLE,
                                    "placeholder": _plain("Sprint planning")}),
            _input(DATE, "Date", {"type": "datepicker", "initial_date": today.isoformat()}),
            _input(TIME, "Start time", {"type": "timepicker", "initial_time": "10:00"}),
            _input(DURATION, "Duration", {"type": "plain_text_input", "initial_value": "30 min"},
                   hint="For example 30 min, 1 h, 1h30, or an end time: until 11:30"),
            _input(ZONE, "Time zone", {"type": "plain_text_input", "initial_value": zone},
                   hint="An Area/City name such as Europe/Berlin; yours from Slack is filled in"),
            _input(REPEAT, "Repeat", {"type": "static_select", "options": repeat_options,
                                      "initial_option": repeat_options[0]}),
            _input(INVITEES, "Invite", {"type": "multi_users_select", "placeholder": _plain("People to invite")},
                   optional=True, hint="They get an e-mail invitation at the address in their Slack profile"),
        ],
    }


def form_values(view: dict) -> dict[str, Any]:
    """block id -> what was entered (text, date, time, the chosen option's value, or the users chosen)."""
    values: dict[str, Any] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        for state in actions.values():
            for key in ("selected_date", "selected_time", "selected_users", "value"):
                if key in state:
                    values[block_id] = state[key]
                    break
            else:
                if "selected_option" in state:
                    values[block_id] = (state.get("selected_option") or {}).get("value")
    return values


_DURATION = re.compile(r"^\s*(?:(\d+(?:[.,]\d+)?)\s*(?:h|hr|hrs|hour|hours)\s*)?(?:(\d+)\s*(?:m|min|mins|minutes?)?)?\s*$",
                       re.I)
_UNTIL = re.compile(r"^\s*(?:until|till|to|-|–)\s*(\d{1,2})[:.h](\d{2})\s*$", re.I)


def parse_duration(text: str, start_local: datetime) -> timedelta | None:
    """"30", "30 min", "1 h", "1h30", "1.5 hours", or "until 11:30" (the same day). None if unreadable;
    a result may be zero or negative (the meeting would end before it starts)."""
    text = (text or "").strip()
    if match := _UNTIL.match(text):
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour > 23 or minute > 59:
            return None
        return datetime.combine(start_local.date(), time(hour, minute)) - start_local.replace(tzinfo=None)
    match = _DURATION.match(text)
    if not match or not (match.group(1) or match.group(2)):
        return None
    hours = float((match.group(1) or "0").replace(",", "."))
    minutes = int(match.group(2) or 0)
    return timedelta(hours=hours, minutes=minutes)


@dataclass(frozen=True)
class ScheduleDraft:
    title: str
    starts_at: datetime  # aware, in `zone`
    duration: timedelta
    zone: str
    repeat: Repeat
    invitees: tuple[str, ...] = field(default_factory=tuple)  # Slack user ids


def read_form(values: dict[str, Any], *, now: datetime) -> tuple[ScheduleDraft | None, dict[str, str]]:
    """The draft, or inline errors by block id, in the person's words."""
    errors: dict[str, str] = {}
    title = clean(values.get(TITLE) or "")  # as room names: so `/meet join` and `/meet delete` find it
    if not title:
        errors[TITLE] = "Give the meeting a title."
    elif len(title) > MAX_TITLE:
        errors[TITLE] = f"Keep the title to {MAX_TITLE} characters or fewer."
    zone_text = (values.get(ZONE) or "").strip()
    candidates = zone_candidates(zone_text)
    zone = candidates[0] if len(candidates) == 1 else None
    if not zone_text:
        errors[ZONE] = "Choose a time zone, such as Europe/Berlin."
    elif len(candidates) > 1:
        errors[ZONE] = f"“{zone_text}” could be {' or '.join(candidates)}. Type the one you mean."
    elif zone is None:
        errors[ZONE] = (f"I don't know the time zone “{zone_text}”. Use an Area/City name such as Europe/Berlin "
                        "or America/New_York, or a city such as Berlin.")
    try:
        day = date.fromisoformat(values.get(DATE) or "")
    except ValueError:
        day = None
        errors[DATE] = "Choose a date."
    try:
        clock = time.fromisoformat(values.get(TIME) or "")
    except ValueError:
        clock = None
        errors[TIME] = "Choose a start time."
    try:
        repeat = Repeat.parse(values.get(REPEAT))
    except ValueError:
        repeat = Repeat.NEVER
        errors[REPEAT] = "Choose how often the meeting repeats."
    start = None
    if zone and day and clock:
        start = datetime.combine(day, clock).replace(tzinfo=ZoneInfo(zone))
        # A wall-clock time that doesn't exist (skipped by a clock change) comes back shifted: say so.
        if start.astimezone(ZoneInfo("UTC")).astimezone(ZoneInfo(zone)).replace(tzinfo=None) != start.replace(tzinfo=None):
            errors[TIME] = f"{clock:%H:%M} does not exist on {day:%d %b} in {zone} (the clocks change). Choose another time."
        elif day < now.astimezone(ZoneInfo(zone)).date():
            errors[DATE] = f"{day:%d %b %Y} has already passed in {zone}. Choose a date from today on."
        elif start <= now:
            errors[TIME] = f"That time has already passed in {zone}. Choose a time in the future."
    if day and repeat is Repeat.WEEKDAYS and day.weekday() >= 5:
        # Calendars count the first date as a meeting; the series' own rule skips it: one answer, asked for.
        monday = day + timedelta(days=7 - day.weekday())
        errors[DATE] = (f"A meeting that repeats on weekdays starts on one: {day:%a %d %b} is a "
                        f"{day:%A}. Start on {monday:%a %d %b}, or choose another repeat.")
    duration = None
    if start is not None:
        duration = parse_duration(values.get(DURATION) or "", start)
        if duration is None:
            errors[DURATION] = "I can't read that duration. Write 30 min, 1 h, 1h30, or an end time: until 11:30."
        elif duration <= timedelta(0):
            errors[DURATION] = "The meeting would end before it starts. Give an end time after the start."
        elif duration > MAX_DURATION:
            errors[DURATION] = "A meeting can last at most 24 hours."
    chosen = values.get(INVITEES) or ()
    # Slack sends a list of user ids; a typed answer (the console) may be "U0002 U0003" or "<@U0002>".
    invitees = tuple(re.findall(r"[UW][A-Z0-9]{2,}", chosen) if isinstance(chosen, str) else chosen)
    if errors or start is None or duration is None:
        return None, errors
    return ScheduleDraft(title=title, starts_at=start, duration=duration, zone=zone, repeat=repeat,
                         invitees=invitees), {}


# -- messages -----------------------------------------------------------------------------


def when_text(starts_at: datetime, ends_at: datetime) -> str:
    """Each reader sees their own zone (Slack's date formatting); the fallback names the meeting's zone."""
    start, end = int(starts_at.timestamp()), int(ends_at.timestamp())
    fallback = f"{starts_at:%a %d %b %H:%M} {starts_at.tzname() or ''}".strip()
    return (f"<!date^{start}^{{date_long_pretty}} {{time}}|{fallback}> – "
            f"<!date^{end}^{{time}}|{ends_at:%H:%M}>")


def repeat_text(repeat: Repeat, starts_at: datetime, zone: str) -> str:
    words = describe(repeat, starts_at, zone)
    return "Does not repeat" if repeat is Repeat.NEVER else f"Repeats {words} at {starts_at.astimezone(ZoneInfo(zone)):%H:%M} {zone} time"


def meeting_blocks(*, title: str, starts_at: datetime, ends_at: datetime, zone: str, repeat: Repeat,
                   room_id: str, organiser: str, invited: int, provider_title: str,
                   problems: tuple[str, ...] = ()) -> list[dict]:
    lines = [f"*When* {when_text(starts_at, ends_at)}", f"*Repeat* {repeat_text(repeat, starts_at, zone)}",
             f"*Organiser* <@{organiser}>"]
    if invited:
        lines.append(f"*Invited by e-mail* {invited} {'person' if invited == 1 else 'people'}")
    blocks = [
        {"type": "header", "text": _plain(f"Scheduled meeting: {title}"[:150])},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        {"type": "actions", "block_id": "scheduled_actions",
         "elements": [{"type": "button", "action_id": JOIN, "text": _plain("Join"), "value": room_id,
                       "style": "primary"}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"On {mrkdwn_escape(provider_title)}. A reminder "
                                          "with Join is posted here ten minutes before each meeting. Everyone who "
                                          "clicks *Join* gets their own link, visible only to them."}]},
    ]
    if problems:
        blocks.insert(2, {"type": "context", "elements": [{"type": "mrkdwn", "text": ":warning: Not invited: "
                                                           + mrkdwn_escape("; ".join(problems))[:2900]}]})
    return blocks


def cancelled_blocks(*, title: str, by: str) -> list[dict]:
    """A scheduled meeting's message once its room is deleted: what it was, and that it won't take place."""
    return [
        {"type": "header", "text": _plain(f"Scheduled meeting: {title}"[:150])},
        {"type": "section", "text": {"type": "mrkdwn", "text": f":no_entry: *Cancelled* by <@{by}>: this meeting "
                                     "won't take place, and its room is deleted."}},
    ]


def cancelled_text(title: str) -> str:
    return f"Scheduled meeting: {title} (cancelled)"


def meeting_text(title: str, starts_at: datetime) -> str:
    return f"Scheduled meeting: {title}, {starts_at:%a %d %b %H:%M} {starts_at.tzname() or ''}".strip()


def reminder_blocks(*, title: str, starts_at: datetime, room_id: str) -> list[dict]:
    at = int(starts_at.timestamp())
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f":alarm_clock: *{mrkdwn_escape(title)}* starts "
                                     f"<!date^{at}^{{date_short_pretty}} at {{time}}|soon> (in ten minutes)."},
         "accessory": {"type": "button", "action_id": JOIN, "text": _plain("Join"), "value": room_id,
                       "style": "primary"}},
    ]


def reminder_text(title: str) -> str:
    return f"{title} starts in ten minutes."


def upcoming_line(title: str, starts_at: datetime, ends_at: datetime, repeating: bool) -> str:
    mark = " :repeat:" if repeating else ""
    return f"• *{mrkdwn_escape(title)}*{mark}: {when_text(starts_at, ends_at)}"
