"""`meetops console`: the real app, a simulated Slack and a simulated Digital Samba, in a terminal.

Slash commands typed here travel as signed HTTP requests to the real Bolt app;
what the bot posts arrives at the Slack double and is printed as text, with
every button numbered so `click N` can press it. Modals are filled in at
prompts.

At a terminal, lines are read with prompt_toolkit (history, arrow-key editing,
Ctrl-C cancels the line or the running command, Ctrl-D quits), and what the bot
does by itself (someone joins, a summary arrives, a digest) is printed as it
happens, above the line being typed. Piped, lines come from standard input and
are echoed, so the console also runs unattended:
`printf '/meet new standup\\nclick 1\\n' | meetops console`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import sys
import tempfile
from dataclasses import dataclass

import httpx

from bot import ids
from bot.errors import MeetopsError, ProviderNotFound
from bot.devtools.harness import Harness
from bot.devtools.render import Button, plain, render_blocks
from bot.devtools.slack_double import Ephemeral, Event, Message, View
from storage.records import fetch_one

INTRO = """meetops console: the real bot, with a simulated Slack and a simulated {platform} (its local emulator).
You are @{user} in #{channel}. Type a slash command such as `/meet new standup`, or:
  click N                   press button N
  as <user> / in <#channel> act as another person (ada, grace, linus) / in another channel
  sim join <room> [name]    someone joins the room        sim end <room>      the meeting ends
  sim vote <option> [name]  vote in the latest poll       sim summary <room>  its AI summary is ready
  sim recording <room>      its recording is ready        wait [seconds]      let time pass
  help, quit"""


# The one slash command installed in this workspace.
COMMAND = "/meet"

# Form fields whose answers are secrets: typed without echo, never printed.
SECRET_FIELDS = {ids.RESTREAM_KEY}


# How often the terminal console looks for what the bot did by itself.
WATCH_SECONDS = 0.2


SIM_ACTIONS = ("join", "end", "vote", "summary", "recording")
# A form field's preset (what Slack shows filled in), and how to type what a picker would pick.
PRESETS = ("initial_value", "initial_date", "initial_time")
FORMATS = {"datepicker": " (YYYY-MM-DD)", "timepicker": " (HH:MM)"}
PEOPLE_PICKERS = ("users_select", "multi_users_select")


class FormCancelled(Exception):
    """Ctrl-C at one of a form's prompts: the form is not sent."""


@dataclass
class Clickable:
    button: Button
    source: Message | Ephemeral


class Console:
    def __init__(self, harness: Harness, out=None):
        """`out=None` prints to whatever sys.stdout is at the time (prompt_toolkit's patched one at a terminal)."""
        self.h = harness
        self.out = out
        self.busy = asyncio.Lock()  # held while a line runs: background events wait, so nothing interleaves
        self.user = harness.user()
        self.cursor = 0
        self.buttons: dict[int, Clickable] = {}
        self.next_number = 1
        self.sandbox = httpx.AsyncClient(timeout=10)
        self.sim_target = harness.sandbox_url
        self.channels: dict[str, str] = {self.user.channel_name: self.user.channel_id}

    def say(self, text: str = "") -> None:
        print(text, file=self.out or sys.stdout, flush=True)

    def name_of(self, user_or_channel: str) -> str:
        if user_or_channel.startswith(("C", "G")):
            return self.h.double.channel_name(user_or_channel)
        try:
            return self.h.double.user(user_or_channel).name
        except LookupError:
            return user_or_channel

    # -- showing what the bot did ---------------------------------------------------

    async def show_new(self, read_line) -> None:
        # Until nothing more happens: submitting a modal shown here makes the bot post again.
        while True:
            await self.h.wait_idle(quiet=0.4, timeout=15)
            events, self.cursor = self.h.double.events_since(self.cursor)
            if not events:
                return
            for event in events:
                await self.show(event, read_line)

    async def show_background(self) -> None:
        """Show what the bot did by itself since the last line (someone joined, a summary, a digest), up to the
        first form: a form waits for the next line, since its prompts would cut into the one being typed."""
        if self.busy.locked():
            return
        async with self.busy:
            events, _ = self.h.double.events_since(self.cursor)
            for event in events:
                if event.kind == "view":
                    return
                self.cursor += 1
                await self.show(event, _no_input)

    async def watch(self) -> None:
        """At a terminal: print background events as they happen, until cancelled."""
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                await self.show_background()
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive one event it cannot show
                self.say(f"Could not show what the bot did ({type(exc).__name__}: {_one_line(str(exc))}).")

    async def show(self, event: Event, read_line) -> None:
        data = event.data
        if event.kind in ("message", "update", "dm"):
            where = f"#{self.h.double.channel_name(data.channel)}" if event.kind != "dm" else "DM"
            thread = " (in thread)" if data.thread_ts else ""
            verb = "updated its message" if event.kind == "update" else "posted"
            self.print_blocks(f"[{where}] meetops {verb}{thread}:", data, data)
        elif event.kind == "ephemeral":
            if data.user and data.user != self.user.user_id:
                return  # only its owner sees an ephemeral
            self.print_blocks("[only you can see this]", data, data)
        elif event.kind == "view":
            await self.fill_in(data, read_line)

    def print_blocks(self, title: str, item, source: Message | Ephemeral) -> None:
        self.say(title)
        if not item.blocks:
            for line in plain(item.text, self.name_of).splitlines():
                self.say("  " + line)
            return
        lines, buttons = render_blocks(item.blocks, self.next_number, self.name_of)
        for button in buttons:
            self.buttons[button.number] = Clickable(button, source)
        self.next_number += len(buttons)
        for line in lines:
            self.say("  " + line)

    # -- modals ---------------------------------------------------------------------

    async def fill_in(self, view: View, read_line) -> None:
        body = view.view
        self.say(f"[modal] {plain((body.get('title') or {}).get('text', ''))}")
        try:
            values = await self.ask_fields(body, read_line)
            if not any(block.get("type") == "input" for block in body.get("blocks", [])) and body.get("submit"):
                # Nothing to fill in: a confirmation, which Slack sends only once its button is pressed.
                button = plain(body["submit"].get("text", "Submit"))
                answer = await read_line(f"  [{button}] Enter confirms; anything else cancels: ")
                if answer.strip().casefold() not in ("", "y", "yes", button.casefold()):
                    raise FormCancelled
            await self.submit(view, values, read_line)
        except FormCancelled:
            self.say("  (Form cancelled: nothing was sent.)")

    async def ask_fields(self, body: dict, read_line) -> dict:
        """Every input of a modal, asked at a prompt: block_id -> action_id -> answer."""
        values: dict = {}
        list_ended: str | None = None  # the action_id of a list of like fields the person ended early
        for block in body.get("blocks", []):
            if block.get("type") == "input" and block["element"].get("action_id") == list_ended:
                continue
            if block.get("type") != "input":
                if block.get("type") in ("section", "context"):
                    lines, _ = render_blocks([block], 0, self.name_of)
                    for line in lines:
                        self.say("  " + line)
                continue
            answered, answer = await self.ask_field(body, block, read_line)
            if not answered:
                if _in_a_list(body.get("blocks", []), block) and not block["element"].get("options"):
                    list_ended = block["element"].get("action_id")
                continue
            values.setdefault(block["block_id"], {})[block["element"]["action_id"]] = answer
        return values

    async def ask_field(self, body: dict, block: dict, read_line) -> tuple[bool, str | list[str] | None]:
        """One input at a prompt: (False, None) when it is left as it was (an optional field left empty, or the
        preset choice kept)."""
        element = block["element"]
        label = plain(block["label"]["text"])
        options = element.get("options") or []
        if options:
            answer = await self.choose(label, options, element["type"] == "checkboxes", read_line)
            return answer is not None, answer
        if element.get("type") in PEOPLE_PICKERS:
            return await self.pick_people(label, element["type"] == "multi_users_select", read_line)
        in_list = _in_a_list(body.get("blocks", []), block)
        preset = next((element[k] for k in PRESETS if element.get(k)), None)
        hint = FORMATS.get(element.get("type"), "")
        note = (f" [{preset}]" if preset else " (optional, empty ends the list)" if in_list
                else " (optional)" if block.get("optional") else "")
        answer = await read_line(f"  {label}{hint}{note}: ", secret=element.get("action_id") in SECRET_FIELDS)
        if answer == "" and (preset or block.get("optional")):
            return False, None  # as in Slack, a field left alone sends what it showed
        return True, answer

    async def pick_people(self, label: str, several: bool, read_line) -> tuple[bool, str | list[str] | None]:
        """A people picker: handles (`grace`, `@linus`) as Slack's picker finds them; a name it doesn't know is
        said, listing who is here, and asked again."""
        prompt = f"  {label} (names{', several with spaces between them' if several else ''}; optional): "
        while True:
            names = [w.lstrip("@") for w in (await read_line(prompt)).replace(",", " ").split()]
            found = {name: self.h.double.find_user(name) for name in names}
            unknown = [name for name, user in found.items() if user is None]
            if not unknown and (several or len(names) <= 1):
                picked = [user.id for user in found.values()]
                if not picked:
                    return False, None
                return True, picked if several else picked[0]
            listed = ", ".join(sorted(u.name for u in self.h.double.users if not u.is_bot))
            self.say(f"  Nobody here is called {' or '.join(repr(n) for n in unknown)}; people here: {listed}."
                     if unknown else "  One person only.")
            prompt = f"  {label}: "

    async def choose(self, label: str, options: list[dict], several: bool, read_line) -> str | list[str] | None:
        """A choice among a field's options, by value or by label in any case; a typo asks again, listing the
        choices, rather than throwing the form away. None keeps the initial choice."""
        by_word = {}
        for option in options:
            by_word[option["value"].casefold()] = option["value"]
            by_word[plain(option["text"]["text"]).casefold()] = option["value"]
        choices = ", ".join(f"{o['value']} ({plain(o['text']['text'])})" for o in options)
        prompt = f"  {label} [{choices}]: "
        while True:
            answer = (await read_line(prompt)).strip()
            words = [w for w in answer.replace(",", " ").split()] if several else [answer] if answer else []
            unknown = [w for w in words if w.casefold() not in by_word]
            if not unknown:
                picked = [by_word[w.casefold()] for w in words]
                return picked if several else picked[0] if picked else None
            listed = ", ".join(o["value"] for o in options)
            self.say(f"  {', '.join(repr(w) for w in unknown)} is not one of the choices; type one of: {listed}"
                     + (" (several with spaces between them, or nothing)" if several else " (or nothing for the preset choice)"))
            prompt = f"  {label}: "

    async def submit(self, view: View, values: dict, read_line) -> None:
        """Send the form. When the bot finds problems, the form stays open as it does in Slack: each problem is
        said by its field's label and that field is asked again (Ctrl-C gives up)."""
        inputs = {b.get("block_id"): b for b in view.view.get("blocks", []) if b.get("type") == "input"}
        while True:
            response = await self.user.asubmit(view, values)
            reply = (response.json() if response.content else {}) if response.status_code == 200 else {}
            if reply.get("response_action") != "errors":
                break
            errors = reply.get("errors", {})
            for block_id, message in errors.items():
                label = plain(inputs[block_id]["label"]["text"]) if block_id in inputs else block_id
                self.say(f"  ! {label}: {message}")
            if not errors or any(block_id not in inputs for block_id in errors):
                self.say("  The form was not sent; open it again to retry.")
                return
            self.say("  The form is still open: fix what it says (Ctrl-C cancels).")
            for block_id in errors:
                block = inputs[block_id]
                answered, answer = await self.ask_field(view.view, block, read_line)
                if answered:
                    values.setdefault(block_id, {})[block["element"]["action_id"]] = answer
                else:
                    values.pop(block_id, None)
        if reply.get("response_action") == "update":
            self.say(f"[modal] {plain((reply['view'].get('title') or {}).get('text', ''))}")
            lines, _ = render_blocks(reply["view"].get("blocks", []), 0, self.name_of)
            for line in lines:
                self.say("  " + line)

    # -- commands -------------------------------------------------------------------

    async def handle(self, line: str, read_line) -> bool:
        """Run one console line; False means quit. A line that goes wrong is explained, never fatal."""
        try:
            if not await self._run_line(line, read_line):
                return False
        except EOFError:
            raise  # the input ended while a modal was waiting for answers
        except MeetopsError as exc:
            self.say(f"That did not work: {_one_line(exc.user_message)}")
        except Exception as exc:  # noqa: BLE001 - one bad line must not end the session
            self.say(f"That did not work ({type(exc).__name__}: {_one_line(str(exc)) or 'no details'}).")
        try:
            await self.show_new(read_line)
        except EOFError:
            raise
        except Exception as exc:  # noqa: BLE001
            self.say(f"Could not show what the bot did ({type(exc).__name__}: {_one_line(str(exc))}).")
        return True

    async def _run_line(self, line: str, read_line) -> bool:
        stripped = line.strip()
        if not stripped:
            return True
        if stripped.startswith("/"):
            # Slash commands go to the bot as Slack sends them: the raw text, unsplit (the bot explains bad quotes).
            command, _, text = stripped.partition(" ")
            if command.lower() != COMMAND:
                self.say(f"Only {COMMAND} is installed here.")
                return True
            _, cursor = self.h.double.events_since(0)
            response = await self.user.acommand(text.strip(), command=COMMAND)
            if response.status_code != 200:
                self.say(f"(Slack would show: the command failed with HTTP {response.status_code})")
                return True
            await self._bot_reacts(cursor)  # its reply follows the ack: show it with this line, not the next
            return True
        try:
            words = shlex.split(stripped.replace("\u201c", '"').replace("\u201d", '"'))
        except ValueError:
            self.say("A quote in that line is not closed; close it, or leave the quotes out.")
            return True
        if not words:
            return True
        verb = words[0].lower()
        if verb == "click" and len(words) == 2 and words[1].isdigit():
            await self.click(int(words[1]), read_line)
        elif verb == "as" and len(words) == 2:
            user_id = self.user_id_for(words[1])
            if user_id:
                self.user = self.user.as_user(user_id)
                self.say(f"You are now @{self.name_of(user_id)}.")
        elif verb == "in" and len(words) == 2:
            name = words[1].lstrip("#")
            channel_id = self.channel_id_for(name)
            self.user = self.user.as_user(self.user.user_id, channel_id=channel_id, channel_name=name)
            self.say(f"You are now in #{name}.")
        elif verb == "sim":
            await self.simulate(words[1] if len(words) > 1 else "", words[2:])
        elif verb == "wait":
            seconds = _seconds(words[1]) if len(words) == 2 else 2.0 if len(words) == 1 else None
            if seconds is None:
                self.say("Wait how long? For example `wait 5` (seconds, up to 600).")
                return True
            await asyncio.sleep(seconds)
        elif verb in ("help", "?"):
            self.say(INTRO.format(user=self.name_of(self.user.user_id), channel=self.user.channel_name,
                                  platform=self.h.services.providers.default.title))
        elif verb in ("quit", "exit"):
            return False
        else:
            self.say("I don't know that. Type `help`.")
        return True

    def channel_id_for(self, name: str) -> str:
        """The same id for a channel name all session long: C0001 is #general, new names get C0002, C0003, …"""
        if name not in self.channels:
            self.channels[name] = f"C{len(self.channels) + 1:04d}"
        return self.channels[name]

    async def drain(self, read_line) -> None:
        """At the end of the input: wait for the bot to finish answering, and show what it sent."""
        try:
            await self.h.wait_idle(quiet=1.0, timeout=20)
        except TimeoutError:
            pass
        try:
            await self.show_new(read_line)
        except EOFError:
            pass  # a modal opened, but nobody is left to fill it in
        except Exception as exc:  # noqa: BLE001
            self.say(f"Could not show what the bot did ({type(exc).__name__}: {_one_line(str(exc))}).")

    def user_id_for(self, name: str) -> str | None:
        name = name.lstrip("@").lower()
        for user_id in ("U0001", "U0002", "U0003"):
            if self.h.double.user(user_id).name.lower() == name or user_id.lower() == name:
                return user_id
        self.say(f"No one called {name}; try ada, grace or linus.")
        return None

    async def click(self, number: int, read_line=None) -> None:
        clickable = self.buttons.get(number)
        if clickable is None:
            self.say(f"There is no button {number}.")
            return
        button = clickable.button
        if button.confirm and read_line is not None:
            # Slack's own dialog: the click is sent only once confirmed.
            dialog = button.confirm
            self.say(f"[dialog] {plain((dialog.get('title') or {}).get('text', ''))}")
            self.say("  " + plain((dialog.get("text") or {}).get("text", ""), self.name_of))
            yes = plain((dialog.get("confirm") or {}).get("text", "Confirm"))
            answer = await read_line(f"  [{yes}] Enter confirms; anything else cancels: ")
            if answer.strip().casefold() not in ("", "y", "yes", yes.casefold()):
                self.say("  (Cancelled: nothing was sent.)")
                return
        if button.url:
            # Opening a join link: the sandbox's room page checks the token and lets the person in.
            async with httpx.AsyncClient(timeout=10) as web:
                page = await web.get(button.url)
            self.say(f"(browser) {page.status_code}: {_page_title(page.text)}")
            return
        source = clickable.source
        if isinstance(source, Message):
            current = next((m for m in self.h.double.messages(source.channel) if m.ts == source.ts), source)
            source = current
        _, cursor = self.h.double.events_since(0)
        try:
            await self.user.aclick(source, button.action_id, value=button.value)
        except LookupError:
            self.say("That button is no longer on the message.")
            return
        await self._bot_reacts(cursor)

    async def simulate(self, what: str, args: list[str]) -> None:
        if what not in SIM_ACTIONS:
            lead = f"I don't know `sim {what[:40]}`." if what else "sim what?"
            self.say(f"{lead} Try sim {', '.join(SIM_ACTIONS[:-1])} or {SIM_ACTIONS[-1]}, "
                     "for example `sim join standup`.")
            return
        try:
            if what == "vote":
                if not self.last_poll():
                    self.say("There is no poll yet.")
                    return
                if not args:
                    self.say("Vote for what? For example `sim vote Pizza` or `sim vote Pizza Grace`.")
                    return
                voter = args[1] if len(args) > 1 else self.name_of(self.user.user_id)
                poll_id, poll_type = self.last_poll()
                choice = "answer" if poll_type == "free" else "option"  # free-text polls take answers
                self.sim_target = self.h.sandbox_url  # polls run in a meeting on Digital Samba
                await self._control(f"/_sandbox/polls/{poll_id}/votes", {choice: args[0], "voter": voter})
                self.say(f"(sandbox) {voter} voted for {args[0]}.")
                return
            room = self.room_id(args[0]) if args else None
            self.sim_target = self.emulator_url(room)
            if room is None:
                self.say("Which room? For example `sim join standup`.")
                return
            if what == "join":
                name = args[1] if len(args) > 1 else "Guest"
                await self._control(f"/_sandbox/rooms/{room}/join", {"name": name})
                self.say(f"(sandbox) {name} joined.")
            elif what == "end":
                await self._control(f"/_sandbox/rooms/{room}/end", {})
                self.say("(sandbox) The meeting ended.")
            elif what in ("summary", "recording"):
                await self._control(f"/_sandbox/rooms/{room}/{what}", {})
                self.say(f"(sandbox) The {what} is ready.")
        except httpx.HTTPStatusError as exc:
            self.say(self.sim_refusal(what, args, exc.response))
        except ProviderNotFound:
            self.say(f"There is no room {args[0]!r}; `/meet rooms` lists them.")

    def sim_refusal(self, what: str, args: list[str], response: httpx.Response) -> str:
        """The sandbox's refusal of a `sim` line, in words (never its raw body)."""
        try:
            message = str(response.json().get("message") or "")
        except (ValueError, AttributeError):
            message = ""
        room = args[0] if args else ""
        if message == "Room not found." or (response.status_code == 404 and what != "vote" and room):
            return f"There is no room {room!r}; `/meet rooms` lists them."
        if message == "The room has no live session.":
            return f"Nobody is in {room} right now, so there is no meeting to {what}: `sim join {room}` first."
        if message == "The session is still live.":
            return f"The meeting in {room} is still going on: `sim end {room}` first, then `sim {what} {room}`."
        if message == "The poll has ended.":
            return "The latest poll has ended: it takes no more votes."
        if message == "The selected option is invalid.":
            options = self.last_poll_options()
            listed = f" Its options are: {', '.join(options)}." if options else ""
            return f"The latest poll has no option {room!r}.{listed}"
        if message.startswith("That room has had no meeting yet"):
            return f"{room} has had no meeting yet: `sim join {room}` first."
        if message in ("Session not found.", "Poll not found."):
            return f"That {message.split()[0].lower()} no longer exists in the sandbox."
        if response.status_code == 422 and message:
            return f"The sandbox could not do that: {message}"
        return f"The sandbox could not do that (HTTP {response.status_code}); try `help`."

    def last_poll_options(self) -> list[str]:
        poll = self.last_poll()
        state = getattr(self.h, "sandbox_state", None)
        found = state.polls.get(poll[0]) if poll and state is not None else None
        return [option.text for option in found.options] if found else []

    async def _control(self, path: str, body: dict) -> dict:
        _, cursor = self.h.double.events_since(0)
        response = await self.sandbox.post(self.sim_target + path, json=body)
        response.raise_for_status()
        if not path.startswith("/_sandbox/polls"):
            await self._bot_reacts(cursor)
        return response.json() if response.content else {}

    async def _bot_reacts(self, cursor: int, timeout: float = 3.0) -> None:
        """What happens in a room reaches the bot by webhook a moment after the sandbox answers: wait for the
        bot's first reaction, so it is shown now rather than after the next line."""
        try:
            await self.h.double.wait_for(lambda: self.h.double.events_since(cursor)[1] > cursor, timeout)
        except TimeoutError:
            pass

    def room_id(self, ref: str) -> str | None:
        from storage import rooms

        room = rooms.find(self.h.services.db, self.h.double.team_id, ref)
        return room.id if room else ref

    def emulator_url(self, room_id: str | None) -> str:
        """The emulator of the room's provider (every emulator answers the kit's /_sandbox sim verbs)."""
        from storage import rooms

        room = rooms.get(self.h.services.db, room_id) if room_id else None
        name = room.provider if room else self.h.services.providers.default_name
        emulator = self.h.runtime.emulators.get(name)
        return emulator.url if emulator is not None else self.h.sandbox_url

    def last_poll(self) -> tuple[str, str] | None:
        """(id, type) of the latest poll."""
        db = self.h.services.db
        if not db["polls"].exists():
            return None
        row = fetch_one(db, "select id, type from polls order by rowid desc limit 1")
        return (row["id"], row["type"]) if row else None


def _in_a_list(blocks: list[dict], block: dict) -> bool:
    """An optional text field among several sharing its action_id (poll options): an empty one ends the list."""
    action_id = block["element"].get("action_id")
    alike = [b for b in blocks if b.get("type") == "input" and b["element"].get("action_id") == action_id]
    return bool(block.get("optional")) and len(alike) > 1


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _seconds(word: str) -> float | None:
    try:
        seconds = float(word)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 600 else None


def _page_title(html: str) -> str:
    """What a browser tab would say: the page's <title>, else its text."""
    title = re.search(r"<title>(.*?)</title>", html, re.S | re.I)
    return " ".join((title.group(1) if title else re.sub(r"<[^>]+>", " ", html)).split())[:200]


async def drive(console: Console, read_line) -> None:
    """Run console lines until `quit` or the end of the input; at the end, show the bot's last replies."""
    try:
        while True:
            line = await read_line()
            if not await console.handle(line, read_line):
                return
    except EOFError:
        await console.drain(read_line)


async def _no_input(prompt: str = "> ", secret: bool = False) -> str:
    raise EOFError  # background events never ask anything


class Terminal:
    """Lines typed at a terminal, through prompt_toolkit: history and editing for commands, Ctrl-C cancels the
    line, Ctrl-D ends the session. Form answers have a history of their own; secrets have none."""

    def __init__(self, input=None, output=None):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import InMemoryHistory

        self._io = {"input": input, "output": output}
        self.commands = PromptSession(history=InMemoryHistory(), **self._io)
        self.forms = PromptSession(history=InMemoryHistory(), **self._io)

    async def read_line(self, prompt: str = "> ", secret: bool = False) -> str:
        from prompt_toolkit import PromptSession

        command = prompt == "> "
        session = self.commands if command else PromptSession(**self._io) if secret else self.forms
        try:
            return await session.prompt_async(prompt, is_password=secret)
        except KeyboardInterrupt:
            if command:
                return ""  # the line is dropped; a new prompt follows
            raise FormCancelled from None


async def drive_terminal(console: Console, terminal: Terminal) -> None:
    """The terminal session: background events shown as they happen; Ctrl-C while a line runs stops waiting
    for it (what the bot does after that still shows up)."""
    loop = asyncio.get_running_loop()
    watcher = asyncio.create_task(console.watch())
    try:
        while True:
            try:
                line = await terminal.read_line()
            except EOFError:
                return
            running = asyncio.create_task(_run_locked(console, line, terminal.read_line))
            with _sigint_cancels(loop, running):
                try:
                    if not await running:
                        return
                except asyncio.CancelledError:
                    if not running.cancelled():
                        raise
                    console.say("(cancelled)")
                except EOFError:
                    return
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _run_locked(console: Console, line: str, read_line) -> bool:
    async with console.busy:
        return await console.handle(line, read_line)


@contextlib.contextmanager
def _sigint_cancels(loop: asyncio.AbstractEventLoop, task: asyncio.Task):
    """Ctrl-C outside a prompt (the terminal is not in raw mode then) cancels `task` instead of the console."""
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals (Windows)
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def _piped_read_line(prompt: str = "> ", secret: bool = False) -> str:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line == "":
        raise EOFError
    line = line.rstrip("\n")
    # Echoed so a piped session reads like a transcript; a secret only as stars.
    print(f"{prompt}{'*' * 8 if secret and line else line}", flush=True)
    return line


async def run_console(provider: str | None = None) -> int:
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    with tempfile.TemporaryDirectory(prefix="meetops-console-") as tmp:
        extra = {"meetops_provider": provider, "emulate": {provider}} if provider and provider != "digitalsamba" else {}
        harness = Harness(db_path=os.path.join(tmp, "console.db"), meetops_summary_poll_seconds=5, meetops_presence_seconds=5,
                          register_webhooks=True, label_sandbox=True, **extra)
        await harness.start()
        console = Console(harness)
        console.say(INTRO.format(user=console.name_of(console.user.user_id), channel=console.user.channel_name,
                                 platform=console.h.services.providers.default.title))
        if os.environ.get("MEETOPS_DB"):
            # Its simulated platforms start empty each time, so a kept database would point at rooms they never had.
            console.say("(MEETOPS_DB is for `meetops serve`: each console session starts afresh, its records "
                        "thrown away when it ends.)")
        try:
            if interactive:
                from prompt_toolkit.patch_stdout import patch_stdout

                with patch_stdout(raw=True):  # background prints go above the line being typed
                    await drive_terminal(console, Terminal())
            else:
                await drive(console, _piped_read_line)
        finally:
            await console.sandbox.aclose()
            await console.user.aclose()
            await harness.stop()
    return 0
