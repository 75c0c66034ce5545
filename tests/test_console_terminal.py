"""`meetops console` at a terminal (prompt_toolkit fed keystrokes through a pipe), and the console's forms and `sim`
lines answering in words."""

from __future__ import annotations

import asyncio
import io

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from bot.console import Console, Terminal, drive, drive_terminal
from bot.devtools.harness import Harness

UP = "\x1b[A"
CTRL_C, CTRL_D = "\x03", "\x04"


def scripted(lines: list[str], out: io.StringIO):
    """A read_line answering from `lines`, echoing them like a piped session (secrets as stars), then ending
    the input."""
    pending = list(lines)

    async def read_line(prompt: str = "> ", secret: bool = False) -> str:
        if not pending:
            raise EOFError
        line = pending.pop(0)
        print(f"{prompt}{'*' * 8 if secret and line else line}", file=out)
        return line

    return read_line


@pytest.fixture
async def console(tmp_path):
    async with Harness(db_path=str(tmp_path / "console.db"), register_webhooks=True, label_sandbox=True) as h:
        console = Console(h, out=io.StringIO())
        try:
            yield console
        finally:
            await console.sandbox.aclose()
            await console.user.aclose()


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_terminal_session_has_history_cancels_lines_and_shows_events_as_they_happen(console):
    out = console.out
    with create_pipe_input() as keys:
        session = asyncio.create_task(drive_terminal(console, Terminal(input=keys, output=DummyOutput())))
        keys.send_text("/meet new standup\r")
        await until(lambda: "== standup ==" in out.getvalue())

        # Someone joins while the person sits at the prompt: the room message changes on screen at once.
        await console.sandbox.post(console.h.sandbox_url + "/_sandbox/rooms/standup/join", json={"name": "Grace"})
        await until(lambda: "1 person in the room" in out.getvalue())

        # Arrow up brings back the last command; editing it and Enter runs the edited line.
        keys.send_text(UP + "\x7f" * len("standup") + "retro\r")
        await until(lambda: "== retro ==" in out.getvalue())

        # Ctrl-C drops the half-typed line at once: nothing runs.
        keys.send_text("/meet new never" + CTRL_C)
        keys.send_text("/meet live\r")
        await until(lambda: "live room" in out.getvalue())
        assert "never" not in out.getvalue()

        # A form: Ctrl-C at one of its prompts cancels the form, and the session goes on.
        keys.send_text("/meet poll standup\r")
        await until(lambda: "[modal] New poll" in out.getvalue())
        keys.send_text("Where to for lunch?\r" + CTRL_C)
        await until(lambda: "Form cancelled" in out.getvalue())

        # Ctrl-D ends the session.
        keys.send_text(CTRL_D)
        await asyncio.wait_for(session, 10)
    assert not console.h.services.db["polls"].exists() or not list(console.h.services.db["polls"].rows)


async def test_a_typo_in_a_form_choice_asks_that_field_again(console):
    out = console.out
    await drive(console, scripted([
        "/meet new standup", "/meet poll standup",
        "Where shall we go for lunch?", "sngle", "Multiple choice", "anonymus", "anonymous", "Pizza", "Sushi", "",
    ], out))
    text = out.getvalue()
    assert "'sngle' is not one of the choices; type one of: single, multiple, free" in text
    assert "'anonymus' is not one of the choices; type one of: named, anonymous" in text
    assert "Could not show" not in text and "LookupError" not in text
    assert "Multiple choice, anonymous" in text  # the form went through with the corrected answers
    poll = next(iter(console.h.services.db["polls"].rows))
    assert poll["type"] == "multiple"


async def test_a_typo_in_the_go_live_destination_asks_again(console):
    out = console.out
    await drive(console, scripted(["/meet new standup", "sim join standup Grace", "/meet restream standup",
                                   "twitch", "youtube", "", "stream-key-123"], out))
    text = out.getvalue()
    assert "'twitch' is not one of the choices; type one of: youtube, vimeo, cloudflare, custom" in text
    assert "streaming live to YouTube" in text
    assert "stream-key-123" not in text


@pytest.mark.parametrize("line, answer", [
    ("sim join nosuch", "There is no room 'nosuch'; `/meet rooms` lists them."),
    ("sim end standup", "Nobody is in standup right now, so there is no meeting to end: `sim join standup` first."),
    ("sim vote Tacos", "The latest poll has no option 'Tacos'. Its options are: Pizza, Sushi."),
    ("sim summary standup", "The meeting in standup is still going on: `sim end standup` first"),
    ("sim dance standup", "I don't know `sim dance`. Try sim join, end, vote, summary or recording"),
])
async def test_every_sim_failure_is_answered_in_words(console, line, answer):
    out = console.out
    setup = {
        "sim vote Tacos": ["/meet new standup", '/meet poll standup "Where to for lunch?" Pizza Sushi'],
        "sim summary standup": ["/meet new standup", "sim join standup Grace"],
    }.get(line, ["/meet new standup"])
    await drive(console, scripted(setup + [line], out))
    reply = out.getvalue().split(f"> {line}\n", 1)[1]
    assert answer in reply
    assert '{"message"' not in reply and "refused:" not in reply
