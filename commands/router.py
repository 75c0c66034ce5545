"""`/meet <subcommand> …`: tokenising the text and finding the handler."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Awaitable, Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.chunking import listing
from bot.text import mrkdwn_escape
from bot.errors import BadInput, RoomNotFound
from bot.meetings import resolve_room, visible_here
from bot.messaging import send_private
from bot.services import Services
from storage.rooms import RoomRecord

# Slack clients "smarten" straight double quotes; people also paste them from documents.
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})


def as_flag(word: str) -> str | None:
    """`--anonymous`, also as typed with a smart dash (`—anonymous`, `–anonymous`); None for a plain word."""
    for dash in ("--", "\u2014", "\u2013"):
        if word.startswith(dash) and len(word) > len(dash):
            return "--" + word[len(dash):].lower()
    return None


def start_or_stop(words: list[str]) -> tuple[list[str], bool]:
    """`standup stop` -> (["standup"], True), `standup start` -> (["standup"], False): the word after the room's
    name says which (a lone word is the room's name)."""
    if len(words) > 1 and isinstance(words[-1], str) and words[-1].lower() in ("start", "stop"):
        return words[:-1], words[-1].lower() == "stop"
    return list(words), False


def slack_unescape(text: str) -> str:
    """Slack sends &, < and > in command text as &amp;, &lt; and &gt;."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# With `should_escape: true` Slack sends what it recognised as markup: people `<@U123|ann>` (or `<@U123>`),
# channels `<#C123|general>`, links `<https://x.io|x.io>`, `<mailto:a@b.c|a@b.c>`, and `<!here>`,
# `<!subteam^S1|@team>`, `<!date^…|fallback>`. A `<` typed by a person arrives as `&lt;`.
_MARKUP = re.compile(r"<([^<>|\s]+)(?:\|([^<>]*))?>")
_SLOT = "\ue000{}\ue001"
_SLOTS = re.compile("\ue000(\\d+)\ue001")
# Texts without any of these are plain words: no markup, entity or quote to read, no slot character.
_MAY_BE_MARKED = re.compile("[<&\ue000]")
_NEEDS_LEXER = re.compile("[<&\ue000\"" + "".join(map(chr, _QUOTES)) + "]")
_LEXER_SPACE = re.compile("[ \t\r\n]+")  # shlex's whitespace: a no-break space is part of a word


class Mention(str):
    """A person named in the command: reads as "@ann" wherever text is used, and carries the user id
    Slack sent (`<@U123|ann>`), so `/meet invite` and `/meet kick` know exactly who was meant."""

    user_id: str

    def __new__(cls, user_id: str, label: str = "") -> "Mention":
        made = super().__new__(cls, "@" + (label or user_id))
        made.user_id = user_id
        return made


def _readable(target: str, label: str | None) -> str:
    label = slack_unescape(label) if label else ""
    if target.startswith("@"):
        return "@" + (label.lstrip("@") or target[1:])
    if target.startswith("#"):
        return "#" + (label.lstrip("#") or target[1:])
    if target.startswith("!"):
        return label or "@" + target[1:].split("^")[0]
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    return label or slack_unescape(target)


def _unmarked(text: str) -> tuple[str, list[tuple[str, str | None]]]:
    """The text with each piece of Slack markup replaced by a numbered slot, and the pieces."""
    pieces: list[tuple[str, str | None]] = []

    def slot(match: re.Match) -> str:
        pieces.append((match.group(1), match.group(2)))
        return _SLOT.format(len(pieces) - 1)

    return _MARKUP.sub(slot, text or ""), pieces


def slack_plain(text: str) -> str:
    """Command text as the person read it when typing: markup back to what it showed ("@ann", "#general",
    a link's text), entities unescaped."""
    if not _MAY_BE_MARKED.search(text or ""):
        return text or ""  # no markup, no entity: as typed
    unmarked, pieces = _unmarked(text)
    return _SLOTS.sub(lambda m: _readable(*pieces[int(m.group(1))]), slack_unescape(unmarked))


def tokenize(text: str) -> list[str]:
    """Words, and phrases in double quotes (straight or curly) as one word.

    Only double quotes group: an apostrophe, which Slack also curls (Bob’s room),
    is part of the word it is in, and a backslash and a `#` are just characters. Slack's markup (a link, a person)
    is one word however it is written, and reads as what the person saw; a person on their own is a
    `Mention` carrying their user id.
    """
    if not _NEEDS_LEXER.search(text or ""):
        # Plain words, as most commands are: what `_lexed` makes of them, for a tenth of its cost.
        return [word for word in _LEXER_SPACE.split(text or "") if word]
    return _lexed(text)


def _lexed(text: str) -> list[str]:
    unmarked, pieces = _unmarked(text)
    lexer = shlex.shlex(slack_unescape(unmarked).translate(_QUOTES), posix=True)
    # No comments: shlex's default `#` would drop the rest of the line ("Team #5" read as "Team").
    lexer.whitespace_split, lexer.quotes, lexer.escape, lexer.commenters = True, '"', "", ""
    try:
        words = list(lexer)
    except ValueError:
        raise BadInput("A quote in your command is not closed. Put each phrase in a matching pair of quotes, "
                       'for example `/meet poll standup "Lunch?" "Pizza" "Sushi"`.') from None
    result: list[str] = []
    for word in words:
        if people := _people_only(word, pieces):
            result.extend(people)
            continue
        result.append(_SLOTS.sub(lambda m: _readable(*pieces[int(m.group(1))]), word))
    return result


# What people type between and after the people they name: "@ann, @bob", "(@ann)", "@ann,@bob."
_BETWEEN_PEOPLE = re.compile(r"[\s,;:.!?()\[\]]*")


def _people_only(word: str, pieces: list[tuple[str, str | None]]) -> list[Mention]:
    """The people in a word that holds nothing else but punctuation, as Mentions; [] for any other word."""
    slots = list(_SLOTS.finditer(word))
    if not slots or not _BETWEEN_PEOPLE.fullmatch(_SLOTS.sub(" ", word)):
        return []
    people = []
    for slot in slots:
        target, label = pieces[int(slot.group(1))]
        if not target.startswith("@") or len(target) < 2:
            return []  # a channel, a link or @here among them: read the word as text
        people.append(Mention(target[1:], slack_unescape(label or "").lstrip("@")))
    return people


@dataclass
class Invocation:
    """One `/meet` command as handlers see it."""

    services: Services
    client: AsyncWebClient
    respond: Callable[..., Awaitable]
    team_id: str
    user_id: str
    channel_id: str
    channel_name: str
    trigger_id: str
    args: list[str]
    text: str = ""  # the whole command text, as typed

    @property
    def quoted(self) -> bool:
        """Whether the person grouped words with double quotes (straight or curly)."""
        return any(q in self.text for q in '"\u201c\u201d\u201e\u00ab\u00bb')

    async def room(self, ref: str) -> RoomRecord:
        """The room the person means, this channel's first when names repeat; another channel's private
        room is not found (its name, polls and summary stay there)."""
        room = await resolve_room(self.services, self.team_id, ref, self.channel_id)
        if not visible_here(self.services, room, self.user_id, self.channel_id):
            raise RoomNotFound(ref)
        return room

    async def reply_list(self, head: str, lines: list[str]) -> None:
        """Answer with a list, packed into one message however long it is."""
        await self.reply(head, blocks=listing(head, lines))

    async def reply(self, text: str, blocks: list[dict] | None = None) -> None:
        """Answer only the person who typed the command."""
        await send_private(self.services, user_id=self.user_id, channel_id=self.channel_id,
                           text=text, blocks=blocks, respond=self.respond)


Handler = Callable[[Invocation], Awaitable[None]]


@dataclass(frozen=True)
class Subcommand:
    name: str
    handler: Handler
    usage: str  # e.g. "/meet new <name> [private]"
    summary: str


class Router:
    def __init__(self) -> None:
        self.default: Subcommand | None = None  # what plain `/meet` does
        self.subcommands: dict[str, Subcommand] = {}

    def add(self, sub: Subcommand, *, default: bool = False) -> None:
        if default:
            self.default = sub
        else:
            self.subcommands[sub.name] = sub

    def route(self, args: list[str]) -> tuple[Subcommand | None, list[str]]:
        """The handler for these words and the words left for it; None when the word is unknown."""
        if not args:
            return self.default, []
        return self.subcommands.get(args[0].lower()), args[1:]

    def usage_lines(self) -> list[str]:
        subs = ([self.default] if self.default else []) + list(self.subcommands.values())
        # `<name>` would be read by Slack as a link: escape the angle brackets.
        return [f"`{mrkdwn_escape(s.usage)}`: {s.summary}" for s in subs]
