"""Polls in Block Kit: the form, its validation, the poll message and its results. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot import ids
from bot.names import clean
from bot.text import mrkdwn_escape
from bot.providers.base import PollResults, PollType
from storage.polls import PollRecord

MAX_OPTIONS = 10
MIN_OPTIONS = 2
MIN_QUESTION = 5
MAX_QUESTION = 255
MAX_OPTION = 255
MAX_RESULT_ROWS = 40  # free-text polls can collect many answers; a message holds 50 blocks
MAX_VOTER_NAMES = 15
BAR_WIDTH = 10

TYPE_LABELS = {PollType.SINGLE: "Single choice", PollType.MULTIPLE: "Multiple choice", PollType.FREE: "Free text"}
STATUS_LABELS = {"draft": "draft", "created": "not started yet", "started": "running", "ended": "ended"}


@dataclass(frozen=True)
class PollDraft:
    question: str
    type: PollType
    anonymous: bool
    options: tuple[str, ...]


def option_block(n: int) -> str:
    """The block id of option input `n` (1-based)."""
    return ids.POLL_OPTION_BLOCK.format(n=n)


# -- validation, shared by the form and the one-line command --------------------------------


def poll_problems(question: str, type_: str | None, options: list[str | None]) -> dict[str | int, str]:
    """What is wrong, keyed by "question", "type", "options" (too few) or an option's 0-based position.

    Blank options are skipped, so the form's empty fields don't count; one problem per field.
    """
    problems: dict[str | int, str] = {}
    if len(question.strip()) < MIN_QUESTION:
        problems["question"] = f"Ask a question of at least {MIN_QUESTION} characters."
    elif len(question.strip()) > MAX_QUESTION:
        problems["question"] = f"Keep the question to {MAX_QUESTION} characters or fewer."
    if type_ not in set(PollType):
        problems["type"] = "Choose single choice, multiple choice or free text."
    filled = [(i, text.strip()) for i, text in enumerate(options) if text and text.strip()]
    seen: set[str] = set()
    for i, text in filled:
        if len(text) > MAX_OPTION:
            problems[i] = f"Keep each option to {MAX_OPTION} characters or fewer (this one has {len(text)})."
        elif text.casefold() in seen:
            problems[i] = f"\u201c{text}\u201d is already an option."
        seen.add(text.casefold())
    if type_ == PollType.FREE and filled:
        problems.setdefault(filled[0][0], "A free-text poll takes no options: clear them, or choose single or "
                                          "multiple choice.")
    elif type_ in (PollType.SINGLE, PollType.MULTIPLE) and len(filled) < MIN_OPTIONS:
        problems["options"] = f"Give at least {MIN_OPTIONS} options for a {TYPE_LABELS[type_].lower()} poll."
    if len(filled) > MAX_OPTIONS:
        problems["options"] = f"A poll has at most {MAX_OPTIONS} options."
    return problems


def draft_from_form(values: dict[str, Any]) -> tuple[PollDraft | None, dict[str, str]]:
    """The poll the form describes, or the inline errors to show, keyed by block id."""
    # Invisible and control characters (right-to-left overrides, zero-width spaces) can disguise text.
    question = clean(values.get(ids.POLL_QUESTION_BLOCK) or "")
    type_ = values.get(ids.POLL_TYPE_BLOCK)
    options = [clean(values.get(option_block(n)) or "") for n in range(1, MAX_OPTIONS + 1)]
    problems = poll_problems(question, type_, options)
    errors: dict[str, str] = {}
    for key, message in problems.items():
        if key == "question":
            errors[ids.POLL_QUESTION_BLOCK] = message
        elif key == "type":
            errors[ids.POLL_TYPE_BLOCK] = message
        elif key == "options":  # too few: point at the first empty option field
            first_empty = next(n for n in range(1, MAX_OPTIONS + 1) if not (options[n - 1] or "").strip())
            errors.setdefault(option_block(first_empty), message)
        else:
            errors[option_block(key + 1)] = message
    if errors:
        return None, errors
    return PollDraft(question=question.strip(), type=PollType(type_),
                     anonymous=values.get(ids.POLL_ANONYMOUS_BLOCK) == "anonymous",
                     options=tuple(o.strip() for o in options if o and o.strip())), {}


# -- the form -------------------------------------------------------------------------------

_TYPE_OPTIONS = [Option(value=str(t), label=label) for t, label in TYPE_LABELS.items()]
_ANONYMOUS_OPTIONS = [Option(value="named", label="Show who voted for what"),
                      Option(value="anonymous", label="Anonymous")]


def poll_modal(room_name: str, metadata: str) -> dict:
    options = [
        InputBlock(block_id=option_block(n), label=f"Option {n}", optional=True,
                   element=PlainTextInputElement(action_id=ids.POLL_OPTION, max_length=MAX_OPTION),
                   hint="Single and multiple choice polls need at least 2 options; free text takes none."
                   if n == MIN_OPTIONS else None)
        for n in range(1, MAX_OPTIONS + 1)
    ]
    return View(
        type="modal", callback_id=ids.POLL_MODAL, title="New poll", submit="Create poll", close="Cancel",
        private_metadata=metadata,
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"A poll for the meeting in *{mrkdwn_escape(room_name)}*.")),
            InputBlock(block_id=ids.POLL_QUESTION_BLOCK, label="Question",
                       element=PlainTextInputElement(action_id=ids.POLL_QUESTION, max_length=MAX_QUESTION,
                                                     placeholder="Where shall we go for lunch?")),
            InputBlock(block_id=ids.POLL_TYPE_BLOCK, label="Type",
                       element=RadioButtonsElement(action_id=ids.POLL_TYPE, options=_TYPE_OPTIONS,
                                                   initial_option=_TYPE_OPTIONS[0])),
            InputBlock(block_id=ids.POLL_ANONYMOUS_BLOCK, label="Votes",
                       element=RadioButtonsElement(action_id=ids.POLL_ANONYMOUS, options=_ANONYMOUS_OPTIONS,
                                                   initial_option=_ANONYMOUS_OPTIONS[0])),
            *options,
        ],
    ).to_dict()


# -- the poll message and its results ----------------------------------------------------------


def _question(poll: PollRecord) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=f":bar_chart: *{mrkdwn_escape(poll.question)}*"))


def _options_list(poll: PollRecord) -> SectionBlock:
    if poll.type == PollType.FREE:
        return SectionBlock(text=MarkdownTextObject(text="_Answer in your own words in the meeting._"))
    return SectionBlock(text=MarkdownTextObject(text="\n".join(f"• {mrkdwn_escape(o)}" for o in poll.options)))


def _about(poll: PollRecord) -> str:
    privacy = "anonymous" if poll.anonymous else "names shown"
    return f"{TYPE_LABELS.get(PollType(poll.type), poll.type)}, {privacy}, asked by <@{poll.created_by}>"


def _results_button(label: str, poll: PollRecord) -> ActionsBlock:
    return ActionsBlock(elements=[ButtonElement(text=label, action_id=ids.POLL_RESULTS, value=poll.id)])


def poll_message_text(poll: PollRecord) -> str:
    return f"Poll: {mrkdwn_escape(poll.question)}"


def launch_note(provider_title: str) -> str:
    """Where a poll that runs in the meeting is started: until then the provider lists it as not started."""
    return (f":point_right: A moderator launches it from the *Polls* panel in the {mrkdwn_escape(provider_title)} "
            "meeting; until then it shows as not started yet.")


def poll_message_blocks(poll: PollRecord, *, note: str = "") -> list[dict]:
    """The poll as first posted in the room's thread: question, options, a Results button (and `note`,
    e.g. where it is launched)."""
    blocks = [_question(poll), _options_list(poll), ContextBlock(elements=[MarkdownTextObject(text=_about(poll))])]
    if note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    blocks.append(_results_button("Results", poll))
    return [b.to_dict() for b in blocks]


def bar(share: float, width: int = BAR_WIDTH) -> str:
    """`█████░░░░░` for a share of 0.5: reads at a glance, in any font."""
    filled = max(0, min(width, round(share * width)))
    return "\u2588" * filled + "\u2591" * (width - filled)


def _votes(n: int) -> str:
    return "1 vote" if n == 1 else f"{n} votes"


def _answers(n: int) -> str:
    return "1 answer" if n == 1 else f"{n} answers"


def _voter_names(names: tuple[str, ...]) -> str:
    shown = ", ".join(mrkdwn_escape(n) for n in names[:MAX_VOTER_NAMES])
    more = len(names) - MAX_VOTER_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def _result_rows(poll: PollRecord, results: PollResults) -> list[SectionBlock]:
    """A bar, a share and a count per option; names unless the poll is anonymous."""
    total = results.total_votes
    rows = sorted(results.options, key=lambda o: -o.votes) if poll.type == PollType.FREE else results.options
    blocks = []
    for option in rows[:MAX_RESULT_ROWS]:
        share = option.votes / total if total else 0
        text = f"*{mrkdwn_escape(option.text)}*\n{bar(share)} {round(share * 100)}%  ({_votes(option.votes)})"
        if not poll.anonymous and option.voters:
            text += f"\n_{_voter_names(option.voters)}_"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    if len(rows) > MAX_RESULT_ROWS:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"…and {len(rows) - MAX_RESULT_ROWS} more answers.")))
    return blocks


def poll_results_blocks(poll: PollRecord, results: PollResults, *, at: datetime) -> list[dict]:
    """The same message with the results: a bar, a share and a count per option; names unless anonymous."""
    blocks: list = [_question(poll)]
    total = results.total_votes
    if poll.type == PollType.FREE:  # answers in people's words, not votes with shares of a whole
        blocks += _answer_rows(poll, results)
    elif total == 0:
        blocks += [_options_list(poll), SectionBlock(text=MarkdownTextObject(text="_No votes yet._"))]
    else:
        blocks += _result_rows(poll, results)
    count = _answers(total) if poll.type == PollType.FREE else _votes(total)
    # Slack shows <!date…> in each reader's own time zone; the fallback is for clients that can't.
    summary = (f"*{count} in total* · {_about(poll)} · "
               f"results as of <!date^{int(at.timestamp())}^{{time}}|{at:%H:%M} UTC>")
    blocks += [ContextBlock(elements=[MarkdownTextObject(text=summary)]), _results_button("Refresh results", poll)]
    return [b.to_dict() for b in blocks]


def poll_results_text(poll: PollRecord, results: PollResults) -> str:
    count = _answers(results.total_votes) if poll.type == PollType.FREE else _votes(results.total_votes)
    return f"Poll: {mrkdwn_escape(poll.question)} ({count})"


# -- polls that run in Slack (providers without a poll API) ------------------------------------

BUTTON_TEXT = 75  # Slack's limit for a button's label


def _label(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT else text[:BUTTON_TEXT - 1] + "\u2026"


def _answer_rows(poll: PollRecord, results: PollResults) -> list[SectionBlock]:
    """Free-text answers, the same answer given by several people once with its count; names unless anonymous."""
    if not results.options:
        return [SectionBlock(text=MarkdownTextObject(text="_No answers yet._"))]
    rows = sorted(results.options, key=lambda o: -o.votes)
    blocks = []
    for answer in rows[:MAX_RESULT_ROWS]:
        text = f"\u201c{mrkdwn_escape(answer.text)}\u201d"
        if answer.votes > 1:
            text += f"  ({answer.votes} people)"
        if not poll.anonymous and answer.voters:
            text += f"\n_{_voter_names(answer.voters)}_"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    if len(rows) > MAX_RESULT_ROWS:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"…and {len(rows) - MAX_RESULT_ROWS} more answers.")))
    return blocks


def _how_to_vote(poll: PollRecord) -> str:
    if poll.type == PollType.FREE:
        return "Answer with *Answer*; answer again to change it."
    if poll.type == PollType.MULTIPLE:
        return "Vote for as many options as you like; click an option again to take that vote back."
    return "Click an option to vote; another option moves your vote, yours again takes it back."


def slack_poll_blocks(poll: PollRecord, results: PollResults, *, at: datetime) -> list[dict]:
    """A poll that runs in Slack, as it stands: the results so far with a vote button per option (or an
    Answer button) and Close; once closed, the final results and no buttons. Redrawn on every vote."""
    blocks: list = [_question(poll)]
    free = poll.type == PollType.FREE
    total = results.total_votes
    if free:
        blocks += _answer_rows(poll, results)
    elif total == 0:
        blocks += [_options_list(poll), SectionBlock(text=MarkdownTextObject(text="_No votes yet._"))]
    else:
        blocks += _result_rows(poll, results)
    count = _answers(total) if free else _votes(total)
    if poll.closed:
        closed = datetime.fromisoformat(poll.closed_at)
        by = f" by <@{poll.closed_by}>" if poll.closed_by else ""
        summary = (f":lock: *Closed*{by} <!date^{int(closed.timestamp())}^{{date_short_pretty}} {{time}}|"
                   f"{closed:%d %b %H:%M} UTC> · final results: *{count}* · {_about(poll)}")
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=summary)]))
        return [b.to_dict() for b in blocks]
    summary = f"*{count} so far* · {_about(poll)} · {_how_to_vote(poll)}"
    if free:
        buttons = [ButtonElement(text="Answer", action_id=ids.POLL_ANSWER, value=poll.id, style="primary")]
    else:
        buttons = [ButtonElement(text=_label(text), action_id=ids.vote_action(n), value=poll.id)
                   for n, text in enumerate(poll.options)]
    buttons.append(ButtonElement(
        text="Close poll", action_id=ids.POLL_CLOSE, value=poll.id,
        confirm=ConfirmObject(title="Close this poll?", text="Nobody can vote after that; the results stay.",
                              confirm="Close it", deny="Keep it open")))
    blocks += [ContextBlock(elements=[MarkdownTextObject(text=summary)]),
               ActionsBlock(block_id=ids.POLL_VOTES_BLOCK, elements=buttons)]
    return [b.to_dict() for b in blocks]


def slack_poll_text(poll: PollRecord, results: PollResults) -> str:
    count = _answers(results.total_votes) if poll.type == PollType.FREE else _votes(results.total_votes)
    return f"Poll{' (closed)' if poll.closed else ''}: {mrkdwn_escape(poll.question)} ({count})"


def answer_modal(poll: PollRecord, metadata: str, previous: str | None = None) -> dict:
    """The small form behind Answer: one line of text (the person's earlier answer, to change it)."""
    privacy = ("Answers are anonymous: nobody sees who wrote what." if poll.anonymous
               else "Your name is shown with your answer.")
    return View(
        type="modal", callback_id=ids.POLL_ANSWER_MODAL, title="Your answer", submit="Send", close="Cancel",
        private_metadata=metadata,
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f":bar_chart: *{mrkdwn_escape(poll.question)}*\n{privacy}")),
            InputBlock(block_id=ids.POLL_ANSWER_BLOCK, label="Answer",
                       element=PlainTextInputElement(action_id=ids.POLL_ANSWER_INPUT, max_length=MAX_OPTION,
                                                     initial_value=previous or None)),
        ],
    ).to_dict()
