"""Pure pieces of polls and livestreams: validation, the forms, the poll message and its results."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot import ids
from bot.poll_blocks import bar, draft_from_form, option_block, poll_message_blocks, poll_modal, poll_problems, \
    poll_results_blocks, poll_results_text, slack_poll_blocks
from bot.providers.base import OptionResult, PollResults, PollType
from bot.restream_blocks import StreamTarget, destination_label, restream_modal, target_from_form
from storage.polls import PollRecord

AT = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def record(**changes) -> PollRecord:
    values = dict(id="p1", room_id="r1", team_id="T1", question="Lunch <today>?", type="single", anonymous=False,
                  options=["Pizza & co", "Sushi"], created_by="U1")
    return PollRecord(**{**values, **changes})


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def results_button(label: str) -> dict:
    return {"type": "actions", "elements": [{"type": "button", "action_id": ids.POLL_RESULTS, "value": "p1",
                                             "text": {"type": "plain_text", "text": label, "emoji": True}}]}


@pytest.mark.parametrize("share, drawn", [(0, "░░░░░░░░░░"), (0.5, "█████░░░░░"), (2 / 3, "███████░░░"),
                                          (1, "██████████")])
def test_bar_draws_the_share_in_ten_cells(share, drawn):
    assert bar(share) == drawn


def test_poll_message_shows_question_options_and_a_results_button():
    assert poll_message_blocks(record()) == [
        section(":bar_chart: *Lunch &lt;today&gt;?*"),
        section("• Pizza &amp; co\n• Sushi"),
        context("Single choice, names shown, asked by <@U1>"),
        results_button("Results"),
    ]


def test_results_show_bars_shares_counts_and_names():
    results = PollResults("p1", "Lunch?", 3, (OptionResult("Pizza & co", 2, ("Ada", "Grace")),
                                              OptionResult("Sushi", 1, ("Linus",))))
    assert poll_results_blocks(record(), results, at=AT) == [
        section(":bar_chart: *Lunch &lt;today&gt;?*"),
        section("*Pizza &amp; co*\n███████░░░ 67%  (2 votes)\n_Ada, Grace_"),
        section("*Sushi*\n███░░░░░░░ 33%  (1 vote)\n_Linus_"),
        context("*3 votes in total* · Single choice, names shown, asked by <@U1> · results as of " + f"<!date^{int(AT.timestamp())}^{{time}}|09:30 UTC>"),
        results_button("Refresh results"),
    ]


def test_anonymous_results_never_name_voters():
    results = PollResults("p1", "Lunch?", 1, (OptionResult("Sushi", 1, ("Linus",)),))
    blocks = poll_results_blocks(record(anonymous=True), results, at=AT)
    assert blocks[1] == section("*Sushi*\n██████████ 100%  (1 vote)")
    assert "Linus" not in str(blocks)


def test_results_without_votes_say_so_and_keep_the_options():
    blocks = poll_results_blocks(record(), PollResults("p1", "Lunch?", 0, ()), at=AT)
    assert blocks[1:3] == [section("• Pizza &amp; co\n• Sushi"), section("_No votes yet._")]
    assert blocks[3] == context("*0 votes in total* · Single choice, names shown, asked by <@U1> · "
                                "results as of " + f"<!date^{int(AT.timestamp())}^{{time}}|09:30 UTC>")


def test_free_text_results_are_answers_not_votes_with_shares():
    """A free-text poll's results were drawn as bars and shares of '1 vote' each, '0 votes in total' when empty."""
    free = record(type="free", options=[], question="Free thoughts?")
    results = PollResults("p1", "Free thoughts?", 2, (OptionResult("Great stuff", 1, ("Grace",)),
                                                      OptionResult("Too long", 1, ("Linus",))))
    shown = str(poll_results_blocks(free, results, at=AT))
    assert "\u201cGreat stuff\u201d" in shown and "*2 answers in total*" in shown
    assert "vote" not in shown and "%" not in shown and "\u2588" not in shown
    assert poll_results_text(free, results) == "Poll: Free thoughts? (2 answers)"
    empty = str(poll_results_blocks(free, PollResults("p1", "Free thoughts?", 0, ()), at=AT))
    assert "_No answers yet._" in empty and "*0 answers in total*" in empty and "vote" not in empty


@pytest.mark.parametrize("question, type_, options, expected", [
    ("Lunch?", "single", ["Pizza", "Sushi"], {}),
    ("What went well?", "free", [], {}),
    ("Hm?", "single", ["Pizza", "Sushi"], {"question": "Ask a question of at least 5 characters."}),
    ("Lunch?", "single", ["Pizza", " pizza "], {1: "\u201cpizza\u201d is already an option."}),
    ("Lunch?", "multiple", ["Pizza"], {"options": "Give at least 2 options for a multiple choice poll."}),
    ("Lunch?", "single", ["x" * 256, "y"], {0: "Keep each option to 255 characters or fewer (this one has 256)."}),
    ("Lunch?", "free", ["", "Pizza"], {1: "A free-text poll takes no options: clear them, or choose single or "
                                          "multiple choice."}),
    ("Lunch?", "quiz", [], {"type": "Choose single choice, multiple choice or free text."}),
])
def test_poll_problems(question, type_, options, expected):
    assert poll_problems(question, type_, options) == expected


def test_form_errors_point_at_the_field_at_fault():
    values = {ids.POLL_QUESTION_BLOCK: "Lunch?", ids.POLL_TYPE_BLOCK: "single", option_block(1): "",
              option_block(2): "Pizza"}
    draft, errors = draft_from_form(values)
    assert draft is None and errors == {option_block(1): "Give at least 2 options for a single choice poll."}
    values[option_block(4)] = "Sushi"
    draft, errors = draft_from_form({**values, ids.POLL_ANONYMOUS_BLOCK: "anonymous"})
    assert errors == {} and draft.options == ("Pizza", "Sushi") and draft.anonymous and draft.type == PollType.SINGLE


def test_forms_carry_their_callback_ids_and_metadata():
    poll = poll_modal("standup", '{"channel": "C1", "room": "r1"}')
    stream = restream_modal("standup", '{"channel": "C1", "room": "r1"}')
    assert poll["callback_id"] == ids.POLL_MODAL and stream["callback_id"] == ids.RESTREAM_MODAL
    assert poll["private_metadata"] == stream["private_metadata"] == '{"channel": "C1", "room": "r1"}'
    inputs = [b for b in poll["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == [ids.POLL_QUESTION_BLOCK, ids.POLL_TYPE_BLOCK, ids.POLL_ANONYMOUS_BLOCK,
                                               *(option_block(n) for n in range(1, 11))]
    assert all(b["element"]["max_length"] <= 255 for b in inputs if b["element"]["type"] == "plain_text_input")
    assert [b["block_id"] for b in stream["blocks"] if b["type"] == "input"] == [
        ids.RESTREAM_DESTINATION_BLOCK, ids.RESTREAM_URL_BLOCK, ids.RESTREAM_KEY_BLOCK]


def stream_form(destination, key="sk-123", url=None) -> dict:
    return {ids.RESTREAM_DESTINATION_BLOCK: destination, ids.RESTREAM_URL_BLOCK: url, ids.RESTREAM_KEY_BLOCK: key}


@pytest.mark.parametrize("values, block, says", [
    (stream_form(None), ids.RESTREAM_DESTINATION_BLOCK, "Choose where to stream"),
    (stream_form("custom"), ids.RESTREAM_URL_BLOCK, "needs its server URL"),
    (stream_form("custom", url="https://example.com/live"), ids.RESTREAM_URL_BLOCK, "rtmp:// or rtmps://"),
    (stream_form("custom", url="rtmp://"), ids.RESTREAM_URL_BLOCK, "rtmp:// or rtmps://"),
    (stream_form("youtube", url="rtmp://a.example"), ids.RESTREAM_URL_BLOCK, "YouTube needs no server URL"),
    (stream_form("vimeo", key="  "), ids.RESTREAM_KEY_BLOCK, "Paste the stream key"),
    (stream_form("vimeo", key="sk 123"), ids.RESTREAM_KEY_BLOCK, "no spaces"),
])
def test_stream_form_errors(values, block, says):
    target, errors = target_from_form(values)
    assert target is None and list(errors) == [block] and says in errors[block]
    assert "123" not in str(errors), "an error never quotes the key"


def test_stream_targets_are_a_type_or_a_url_and_hide_the_key():
    youtube, _ = target_from_form(stream_form("youtube", key="sk-top-secret"))
    custom, _ = target_from_form(stream_form("custom", url="rtmps://u:pw@live.example.com:4443/app/k", key="sk-1"))
    assert (youtube.type, youtube.server_url, youtube.label) == ("youtube", None, "YouTube")
    assert (custom.type, custom.server_url) == (None, "rtmps://u:pw@live.example.com:4443/app/k")
    assert custom.label == "rtmps://live.example.com:4443", "scheme and host only"
    assert "sk-top-secret" not in repr(youtube) and "pw" not in repr(custom)
    assert destination_label("cloudflare", None) == "Cloudflare"
    assert StreamTarget(label="x", type="vimeo", stream_key="k").stream_key == "k"


def test_one_line_flags_typed_with_smart_dashes_count_and_unknown_ones_are_refused():
    from bot.errors import BadInput
    from commands.polls import draft_from_words

    draft = draft_from_words(["Secret vote?", "A", "B", "\u2014anonymous", "\u2013MULTIPLE"])
    assert draft.anonymous and draft.type == "multiple" and draft.options == ("A", "B")
    with pytest.raises(BadInput, match="--anonymus"):
        draft_from_words(["Secret vote?", "A", "B", "--anonymus"])


# -- polls that run in Slack ----------------------------------------------------------------------

def test_a_slack_poll_has_a_vote_button_per_option_and_close():
    long = "L" * 100
    blocks = slack_poll_blocks(record(options=["Pizza & co", long]), PollResults("p1", "Lunch?", 0, ()), at=AT)
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [(e["action_id"], e["value"], e["text"]["text"]) for e in actions["elements"]] == [
        (ids.vote_action(0), "p1", "Pizza & co"), (ids.vote_action(1), "p1", "L" * 74 + "…"),
        (ids.POLL_CLOSE, "p1", "Close poll")]
    assert actions["elements"][-1]["confirm"]["confirm"]["text"] == "Close it"
    assert ids.voted_option(ids.vote_action(1)) == 1 and ids.voted_option(ids.POLL_CLOSE) is None
    assert section("_No votes yet._") in blocks


def test_a_closed_slack_poll_shows_final_results_and_no_buttons():
    poll = record(hosted="slack", closed_at="2026-03-02T09:30:00+00:00", closed_by="U9")
    results = PollResults("p1", "Lunch?", 2, (OptionResult("Pizza & co", 2, ("Ada", "Grace")), OptionResult("Sushi", 0)))
    blocks = slack_poll_blocks(poll, results, at=AT)
    assert not [b for b in blocks if b["type"] == "actions"]
    assert section("*Pizza &amp; co*\n██████████ 100%  (2 votes)\n_Ada, Grace_") in blocks
    assert ":lock: *Closed* by <@U9>" in blocks[-1]["elements"][0]["text"]
    assert "final results: *2 votes*" in blocks[-1]["elements"][0]["text"]


def test_slack_poll_answers_are_listed_without_names_when_anonymous():
    results = PollResults("p1", "Went well?", 3, (OptionResult("Demo", 2, ("Ada", "Grace")),
                                                  OptionResult("<b>Pairing</b>", 1, ("Linus",))))
    named = slack_poll_blocks(record(type="free", options=[]), results, at=AT)
    assert section("\u201cDemo\u201d  (2 people)\n_Ada, Grace_") in named
    assert section("\u201c&lt;b&gt;Pairing&lt;/b&gt;\u201d\n_Linus_") in named
    anonymous = slack_poll_blocks(record(type="free", options=[], anonymous=True), results, at=AT)
    assert section("\u201cDemo\u201d  (2 people)") in anonymous and "Ada" not in str(anonymous)
    assert [e["action_id"] for b in anonymous if b["type"] == "actions" for e in b["elements"]] == [
        ids.POLL_ANSWER, ids.POLL_CLOSE]
