"""The schedule form's checks and the scheduled meeting's messages (pure)."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.recurrence import Repeat, expand, rrule_line, rule
from bot.schedule_blocks import (
    DATE, DURATION, INVITEES, REPEAT, TIME, TITLE, ZONE, form_values, meeting_blocks, parse_duration, read_form,
    schedule_modal,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def form(**changes):
    changes = {globals()[name]: value for name, value in changes.items()}
    values = {TITLE: "Planning", DATE: "2026-12-07", TIME: "10:00", DURATION: "45 min", ZONE: "Europe/Berlin",
              REPEAT: "weekly", INVITEES: ["U1"]}
    values.update(changes)
    return values


def test_a_good_form_becomes_a_draft_in_its_zone():
    draft, errors = read_form(form(), now=NOW)
    assert errors == {}
    assert draft.starts_at == datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert draft.duration == timedelta(minutes=45) and draft.repeat is Repeat.WEEKLY and draft.invitees == ("U1",)


def test_a_time_in_the_past_is_refused_in_words():
    _, errors = read_form(form(DATE="2026-12-01", TIME="09:30"), now=NOW)  # 08:30 UTC: passed
    assert "already passed" in errors[TIME]


def test_a_day_in_the_past_is_refused_on_the_date_not_the_time():
    """Else the console, which asks again only the field named, asks for a time no answer can fix."""
    _, errors = read_form(form(DATE="2020-01-01", TIME="10:00"), now=NOW)
    assert errors == {DATE: "01 Jan 2020 has already passed in Europe/Berlin. Choose a date from today on."}
    _, errors = read_form(form(DATE="2026-11-30", ZONE="Pacific/Kiritimati"), now=NOW)  # 1 Dec 23:00 there
    assert DATE in errors and TIME not in errors


def test_a_title_is_cleaned_as_room_names_are():
    draft, _ = read_form(form(TITLE="  Weekly   sync\u200b "), now=NOW)
    assert draft.title == "Weekly sync"


def test_an_end_before_the_start_is_refused():
    _, errors = read_form(form(DURATION="until 09:00"), now=NOW)
    assert "end before it starts" in errors[DURATION]
    _, errors = read_form(form(DURATION="0 min"), now=NOW)
    assert "end before it starts" in errors[DURATION]


def test_an_unknown_zone_is_refused_and_case_is_forgiven():
    _, errors = read_form(form(ZONE="Mars/Olympus"), now=NOW)
    assert "Mars/Olympus" in errors[ZONE] and "Europe/Berlin" in errors[ZONE]
    draft, errors = read_form(form(ZONE="europe/berlin"), now=NOW)
    assert not errors and draft.zone == "Europe/Berlin"


def test_a_zone_by_its_city_is_taken_and_an_ambiguous_one_asks_which():
    draft, errors = read_form(form(ZONE="Berlin"), now=NOW)
    assert not errors and draft.zone == "Europe/Berlin"
    _, errors = read_form(form(ZONE="Eastern"), now=NOW)
    assert errors[ZONE] == "“Eastern” could be Canada/Eastern or US/Eastern. Type the one you mean."


def test_durations_in_several_spellings():
    start = datetime(2026, 12, 7, 10, 0)
    assert parse_duration("1h30", start) == timedelta(minutes=90)
    assert parse_duration("1.5 hours", start) == timedelta(minutes=90)
    assert parse_duration("90", start) == timedelta(minutes=90)
    assert parse_duration("until 11:15", start) == timedelta(minutes=75)
    assert parse_duration("soon", start) is None


def test_weekly_repeats_keep_wall_clock_time_across_daylight_saving():
    start = datetime(2027, 3, 22, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # before the March change
    assert rrule_line(Repeat.WEEKLY, start, "Europe/Berlin") == "FREQ=WEEKLY;BYDAY=MO"
    times = expand([rule(Repeat.WEEKLY, start, "Europe/Berlin")], start, "Europe/Berlin", start,
                   start + timedelta(weeks=2))
    assert [t.hour for t in times] == [10, 10, 10]
    assert times[1].utcoffset() != times[0].utcoffset()


def test_weekdays_and_monthly_rules():
    start = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("UTC"))
    assert rrule_line(Repeat.WEEKDAYS, start, "UTC") == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    assert rrule_line(Repeat.MONTHLY, start, "UTC") == "FREQ=MONTHLY;BYMONTHDAY=7"
    assert rrule_line(Repeat.NEVER, start, "UTC") is None


def test_the_modal_round_trips_through_slack_state():
    view = schedule_modal(zone="Europe/Madrid", today=NOW.date(), metadata="{}", provider_title="OpenTalk")
    zone_block = next(b for b in view["blocks"] if b.get("block_id") == ZONE)
    assert zone_block["element"]["initial_value"] == "Europe/Madrid"
    state = {"values": {DATE: {DATE: {"type": "datepicker", "selected_date": "2026-12-07"}},
                        INVITEES: {INVITEES: {"type": "multi_users_select", "selected_users": ["U1", "U2"]}},
                        REPEAT: {REPEAT: {"type": "static_select", "selected_option": {"value": "daily"}}}}}
    assert form_values({"state": state}) == {DATE: "2026-12-07", INVITEES: ["U1", "U2"], REPEAT: "daily"}


def test_the_meeting_message_shows_time_in_each_readers_zone():
    start = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    blocks = meeting_blocks(title="Planning", starts_at=start, ends_at=start + timedelta(minutes=30),
                            zone="Europe/Berlin", repeat=Repeat.WEEKLY, room_id="r1", organiser="U1", invited=2,
                            provider_title="OpenTalk")
    text = str(blocks)
    assert f"<!date^{int(start.timestamp())}^" in text and "every Monday" in text and "room_join" in text


def test_a_weekdays_series_starting_on_a_weekend_is_refused_with_the_next_monday():
    """It was taken: the confirmation said Sat 05 Dec, /meet upcoming started on Monday, calendars on Saturday."""
    _, errors = read_form(form(DATE="2026-12-05", REPEAT="weekdays"), now=NOW)
    assert errors[DATE] == ("A meeting that repeats on weekdays starts on one: Sat 05 Dec is a Saturday. Start on "
                            "Mon 07 Dec, or choose another repeat.")
    draft, errors = read_form(form(DATE="2026-12-07", REPEAT="weekdays"), now=NOW)
    assert not errors and draft.starts_at.weekday() == 0
