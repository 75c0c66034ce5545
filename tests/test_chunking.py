"""Fitting text into Slack's limits: the pure pieces under summaries and digests."""

from __future__ import annotations

from bot.chunking import Packer, section, shorten, split_text, text_messages


def test_a_single_word_longer_than_the_limit_is_the_only_thing_cut():
    assert split_text("a " + "x" * 7 + " b", 3) == ["a", "xxx", "xxx", "x b"]


def test_packer_fills_sections_then_messages_in_order():
    packer = Packer(limit=11, per_message=2)
    out = []
    for line in ["one", "two", "three", "four", "five"]:
        out += packer.add(line)
    out += packer.add_block({"type": "divider"})
    out += packer.finish()
    assert out == [[section("one\ntwo"), section("three\nfour")], [section("five"), {"type": "divider"}]]


def test_text_messages_and_shorten():
    messages = text_messages("w " * 100, head=[section("title")], per_message=2)
    assert messages == [[section("title"), section(("w " * 100).strip())]]
    assert shorten("one two three", 8) == "one two…" and shorten("  short\n text ", 50) == "short text"


def test_listing_fits_one_message_and_counts_what_does_not_fit():
    from bot.chunking import listing

    lines = [f"• *room {i:04d}*  `room-{i:04d}`" for i in range(8000)]
    blocks = listing("*8000 rooms*:", lines)
    assert len(blocks) <= 50 and all(len(b["text"]["text"]) <= 3000 for b in blocks)
    shown = sum(b["text"]["text"].count("• ") for b in blocks)
    assert blocks[-1]["text"]["text"] == f"…and {8000 - shown} more that don't fit in one Slack message."
    assert listing("*2 rooms*:", lines[:2]) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*2 rooms*:\n" + "\n".join(lines[:2])}}]
