"""`/meet` runs with `should_escape: true`: people, channels and links arrive as Slack markup. Every
command reads them as the person saw them, and people named on their own keep their user id."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from commands.router import Mention, slack_plain, tokenize

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yml").read_text())


def test_the_slash_command_asks_slack_for_escaped_text():
    [meet] = [c for c in MANIFEST["features"]["slash_commands"] if c["command"] == "/meet"]
    assert meet["should_escape"] is True


def test_a_person_named_on_their_own_is_a_mention_with_their_id():
    words = tokenize("invite standup <@U0002|grace> <@U0003>")
    assert words == ["invite", "standup", "@grace", "@U0003"]
    assert [getattr(w, "user_id", None) for w in words] == [None, None, "U0002", "U0003"]
    assert isinstance(words[2], Mention) and not isinstance(words[1], Mention)


@pytest.mark.parametrize("text", ["sync <@U2|grace>, <@U3|linus>", "sync <@U2|grace> <@U3|linus>.",
                                  "sync <@U2|grace>,<@U3|linus>", "sync (<@U2|grace>; <@U3|linus>)"])
def test_punctuation_around_people_is_not_part_of_them(text):
    """Slack sends "@grace, @linus" as `<@U2|grace>, <@U3|linus>`: the comma is not the room's name."""
    words = tokenize(text)
    assert words == ["sync", "@grace", "@linus"]
    assert [w.user_id for w in words if isinstance(w, Mention)] == ["U2", "U3"]


def test_a_channel_or_here_with_punctuation_stays_text():
    assert [type(w) for w in tokenize("<#C1|general>, <!here>.")] == [str, str]


def test_markup_inside_a_phrase_reads_as_shown():
    words = tokenize('poll standup "Read <https://x.io/a?b=1&amp;c=2|x.io> before <@U1|ada> &amp; <#C1|general>?" Yes No')
    assert words == ["poll", "standup", "Read x.io before @ada & #general?", "Yes", "No"]
    assert not any(isinstance(w, Mention) for w in words)


def test_links_channels_and_specials_read_as_text():
    assert tokenize("new <http://standup.io|standup.io>") == ["new", "standup.io"]
    assert tokenize("new <https://a.b/c?x=1&amp;y=2>") == ["new", "https://a.b/c?x=1&y=2"]
    assert tokenize("join <#C0001|general>") == ["join", "#general"]
    assert tokenize("new <!here> <!subteam^S1|@devs> <mailto:a@b.c|a@b.c>") == ["new", "@here", "@devs", "a@b.c"]


def test_a_label_with_quotes_does_not_open_a_phrase():
    assert tokenize('new <https://x.io|say "hi"> room') == ["new", 'say "hi"', "room"]


def test_a_hash_is_part_of_the_name_not_a_comment():
    assert tokenize("new Team #5 standup") == ["new", "Team", "#5", "standup"]
    assert tokenize('poll standup "Which #?" "#1" #2') == ["poll", "standup", "Which #?", "#1", "#2"]


def test_typed_angle_brackets_stay_text():
    assert tokenize("new &lt;b&gt; &amp;") == ["new", "<b>", "&"]
    assert slack_plain("poll s &lt;@U1&gt; <@U2|bob>") == "poll s <@U1> @bob"


async def test_commands_work_with_escaped_links_in_them(harness, ada):
    """The Slack double sends text as Slack does with should_escape (people, channels, links as markup)."""
    assert "<https://x.io/a?b=1&amp;c=2>" in ada.escaped("https://x.io/a?b=1&c=2")
    await ada.acommand("new standup")
    await harness.double.wait_for(lambda: [m for m in harness.double.messages("C0001") if not m.thread_ts])
    await ada.acommand('poll standup "Notes at https://x.io/a?b=1&c=2 read?" Yes No')
    poll = await harness.double.wait_for(
        lambda: next((m for m in harness.double.messages("C0001") if m.thread_ts), None))
    assert "Notes at https://x.io/a?b=1&amp;c=2 read?" in str(poll.blocks)


def test_plain_words_read_as_the_lexer_reads_them():
    """Commands with no markup, entity or quote skip the lexer: they must come out exactly as it makes them,
    a no-break space, a tab or a line break included (checked on 5,000 generated texts)."""
    import random

    from commands import router

    pick = random.Random(8)
    alphabet = ["a", "Z", "1", " ", "  ", "\t", "\n", "\r", "\u00a0", "\u2003", "\x0b", "-", "\u2014", "é", "日",
                "#", "\\", "'", "\u2019", "(", ".", "@", ",", "*", "_"]
    for _ in range(5000):
        text = "".join(pick.choice(alphabet) for _ in range(pick.randint(0, 24)))
        assert tokenize(text) == router._lexed(text), repr(text)
        assert slack_plain(text) == text
