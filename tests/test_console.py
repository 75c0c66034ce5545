"""`meetops console`: every line is handled, and a piped session shows everything the bot said."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from bot.console import Console, drive
from bot.devtools.harness import Harness
from bot.sandbox.digitalsamba.models import Faults


def scripted(lines: list[str], out: io.StringIO):
    """A read_line that answers from `lines`, echoing them like a piped session, then ends the input."""
    pending = list(lines)

    async def read_line(prompt: str = "> ", secret: bool = False) -> str:
        if not pending:
            raise EOFError
        line = pending.pop(0)
        print(f"{prompt}{line}", file=out)
        return line

    return read_line


def test_bad_lines_are_explained_and_the_session_goes_on():
    lines = ['/meet new "Design Review', "/foo bar", "/MEET help", "sim summary nosuch", "wait abc",
             'sim vote "Pizza', "sim nosuch standup", "in #random", "help"]
    run = subprocess.run([sys.executable, "-m", "bot", "console"], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, timeout=60)
    out = run.stdout
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in out + run.stderr
    assert "[Suggestion]" not in out + run.stderr  # Bolt's hint for an unhandled command
    assert "not closed" in out.split("> /foo bar")[0]  # the bot itself explains the unclosed quote
    assert "Only /meet is installed here." in out
    assert "Here is what `/meet` can do" in out  # /MEET is /meet
    assert "There is no room 'nosuch'" in out
    assert "Wait how long?" in out
    assert "A quote in that line is not closed" in out
    # An unknown sim action is said to be one, not taken for a missing room.
    assert "I don't know `sim nosuch`. Try sim join, end, vote, summary or recording" in out
    assert out.count("click N") == 2  # the intro, and `help` at the very end: nothing ended the session early


def test_meetops_db_is_said_to_be_for_serve_only(tmp_path):
    """The console starts afresh every time (its simulated platforms do): one who set MEETOPS_DB is told so."""
    kept = tmp_path / "kept.db"
    run = subprocess.run([sys.executable, "-m", "bot", "console"], input="", capture_output=True, text=True,
                         timeout=60, env={**os.environ, "MEETOPS_DB": str(kept)})
    assert run.returncode == 0, run.stderr
    assert "(MEETOPS_DB is for `meetops serve`: each console session starts afresh" in run.stdout
    assert not kept.exists()


async def test_a_slow_last_reply_still_arrives_and_channels_keep_their_ids(tmp_path):
    async with Harness(db_path=str(tmp_path / "console.db"), register_webhooks=True, label_sandbox=True) as h:
        out = io.StringIO()
        console = Console(h, out=out)
        try:
            # Channel ids are stable: #general is C0001, new names count on from there.
            for line, channel_id in [("in #random", "C0002"), ("in dev", "C0003"), ("in random", "C0002"),
                                     ("in general", "C0001")]:
                assert await console.handle(line, scripted([], out))
                assert console.user.channel_id == channel_id

            console.last_poll = lambda: ("poll-1", "single")
            assert await console.handle("sim vote", scripted([], out))
            assert "Vote for what?" in out.getvalue()

            # The provider is slow: the room message comes long after the command was answered.
            h.sandbox_state.faults = Faults(latency_ms=700)
            await drive(console, scripted(["/meet new standup"], out))
            assert "== standup ==" in out.getvalue()
        finally:
            await console.sandbox.aclose()
            await console.user.aclose()


def test_plain_text_shows_as_written_and_mrkdwn_as_slack_reads_it():
    """A header is plain_text: Slack shows "Q&A <session>" as typed, and reads markup only in mrkdwn."""
    from bot.devtools.render import render_blocks

    lines, [join] = render_blocks([
        {"type": "header", "text": {"type": "plain_text", "text": "Q&A <session>"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Q&amp;A &lt;session&gt;* by <@U0001>"}},
        {"type": "actions", "elements": [{"type": "button", "action_id": "join",
                                          "text": {"type": "plain_text", "text": "Join <now>"}}]},
    ], 1, user_name={"U0001": "ada"}.get)
    assert lines == ["== Q&A <session> ==", "*Q&A <session>* by @ada", "  [1] Join <now>"]
    assert join.label == "Join <now>"


async def test_a_form_the_bot_refuses_stays_open_and_asks_the_field_again(tmp_path):
    """As in Slack, where a modal with errors stays open: the problem is said by the field's label (not its
    block id) and that field is asked again; the answers already given are kept."""
    async with Harness(db_path=str(tmp_path / "console.db"), register_webhooks=True, label_sandbox=True) as h:
        out = io.StringIO()
        console = Console(h, out=out)
        try:
            await drive(console, scripted(["/meet new standup", "click 2", "Lunch?", "single", "", "Pizza", "",
                                           "Sushi"], out))
            shown = out.getvalue()
            assert "! Option 2: Give at least 2 options" in shown and "poll_option" not in shown
            assert "The form is still open" in shown and "was not sent" not in shown
            assert "• Pizza\n  • Sushi" in shown  # the poll as posted, with the question kept from the first try
            [created] = h.sandbox_state.requests_matching("POST", "/polls")
            assert "Lunch?" in str(created)
        finally:
            await console.sandbox.aclose()
            await console.user.aclose()


async def test_a_form_shows_its_presets_keeps_them_when_left_empty_and_picks_people_by_name(tmp_path):
    """As Slack shows the schedule form filled in (time, duration, zone), the console shows those presets and an
    empty answer keeps them; the date says its format; Invite takes handles and asks again for a stranger."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from storage import schedules

    day = (datetime.now(ZoneInfo("Europe/Madrid")).date() + timedelta(days=8)).isoformat()
    async with Harness(db_path=str(tmp_path / "console.db"), meetops_provider="opentalk") as h:
        h.double.add_user("U0002", "grace", real_name="Grace Hopper", email="grace@example.com")
        out = io.StringIO()
        console = Console(h, out=out)
        try:
            await drive(console, scripted(["/meet schedule", "Sprint planning", day, "", "", "", "", "@grace bob",
                                           "grace"], out))
            shown = out.getvalue()
            assert "Date (YYYY-MM-DD) [" in shown and "Start time (HH:MM) [10:00]: \n" in shown
            assert "Duration [30 min]: \n" in shown and "Time zone [Europe/Madrid]: \n" in shown
            assert "Nobody here is called 'bob'; people here: ada, grace, linus." in shown
            assert "! " not in shown  # nothing refused: the presets went as Slack would send them
            [record] = await h.double.wait_for(lambda: schedules.active(h.services.db))
            start = datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=ZoneInfo("Europe/Madrid"))
            assert datetime.fromisoformat(record.starts_at) == start and record.timezone == "Europe/Madrid"
            assert datetime.fromisoformat(record.ends_at) - start == timedelta(minutes=30)
            assert "1 invitation sent" in shown
        finally:
            await console.sandbox.aclose()
            await console.user.aclose()


async def test_a_button_slack_confirms_first_is_clicked_only_once_confirmed(tmp_path):
    """Chalk's End is for good, so Slack shows its confirmation dialog before sending the click: so does the
    console, and anything but Enter (or yes) sends nothing."""
    from storage import rooms

    async with Harness(db_path=str(tmp_path / "console.db"), register_webhooks=True, label_sandbox=True,
                       meetops_provider="chalk") as h:
        out = io.StringIO()
        console = Console(h, out=out)
        try:
            await drive(console, scripted(["/meet new standup", "click 1", "click 5", "click 4", "no"], out))
            shown = out.getvalue()
            assert "[dialog] End the meeting for good?" in shown and "Cancelled: nothing was sent" in shown
            assert rooms.find(h.services.db, "T0001", "standup").status != "ended"
            await drive(console, scripted(["click 4", ""], out))
            assert "The session in *standup* has ended." in out.getvalue()
            assert rooms.find(h.services.db, "T0001", "standup").status == "ended"
        finally:
            await console.sandbox.aclose()
            await console.user.aclose()


async def test_a_confirmation_is_sent_only_once_confirmed(tmp_path):
    """/meet delete opens a modal with nothing to fill in: in Slack nothing happens until *Delete* is pressed.
    The console asks; an answer other than Enter (or yes) cancels and the room stays."""
    from storage import rooms

    async with Harness(db_path=str(tmp_path / "console.db"), register_webhooks=True, label_sandbox=True) as h:
        out = io.StringIO()
        console = Console(h, out=out)
        try:
            await drive(console, scripted(["/meet new standup", "/meet delete standup", "no"], out))
            assert "[Delete] Enter confirms" in out.getvalue() and "Form cancelled" in out.getvalue()
            assert rooms.find(h.services.db, "T0001", "standup") is not None
            await drive(console, scripted(["/meet delete standup", ""], out))
            assert "*standup* is deleted." in out.getvalue()
            assert rooms.find(h.services.db, "T0001", "standup") is None
        finally:
            await console.sandbox.aclose()
            await console.user.aclose()
