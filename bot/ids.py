"""Action, block and callback ids: one name, shared by the block builders and the handlers."""

import re

# Buttons on the room message. Their value is the room id.
JOIN = "room_join"
POLL = "room_poll"
GO_LIVE = "room_go_live"
STOP_STREAM = "room_stop_stream"
END = "room_end"
SUMMARY = "room_summary"

# The link button in a personal join reply: it only opens a URL, but Slack still
# sends an action for it, which the app acknowledges and ignores.
OPEN_LINK = "join_open_link"

ROOM_ACTIONS_BLOCK = "room_actions"

# The poll modal (`/meet poll <room>`, the Poll button) and the poll message in the room's thread.
POLL_MODAL = "poll_modal"
POLL_QUESTION_BLOCK = "poll_question"
POLL_TYPE_BLOCK = "poll_type"
POLL_ANONYMOUS_BLOCK = "poll_anonymous"
POLL_OPTION_BLOCK = "poll_option_{n}"  # n = 1..10; every option input shares POLL_OPTION
POLL_QUESTION = "question"
POLL_TYPE = "type"
POLL_ANONYMOUS = "anonymous"
POLL_OPTION = "option"
POLL_RESULTS = "poll_results"  # the Results button; its value is the poll id

# Polls that run in Slack (providers without a poll API). Every button's value is the poll id.
# Vote buttons sit in one actions block, where action ids must differ: one per option, 0-based.
POLL_VOTE = "poll_vote_{n}"
POLL_VOTE_ACTIONS = re.compile(r"^poll_vote_(\d+)$")  # what the vote handler listens to
POLL_VOTES_BLOCK = "poll_votes"
POLL_CLOSE = "poll_close"  # the asker and the room's moderators close the poll
POLL_ANSWER = "poll_answer"  # free text: opens POLL_ANSWER_MODAL
POLL_ANSWER_MODAL = "poll_answer_modal"
POLL_ANSWER_BLOCK = "poll_answer_text"
POLL_ANSWER_INPUT = "answer"


def vote_action(option: int) -> str:
    """The action id of the vote button of `option` (0-based)."""
    return POLL_VOTE.format(n=option)


def voted_option(action_id: str) -> int | None:
    """The option (0-based) a vote button's action id stands for; None for any other id."""
    match = POLL_VOTE_ACTIONS.fullmatch(action_id or "")
    return int(match.group(1)) if match else None

# The Go live modal (`/meet restream <room>`, the Go live button).
RESTREAM_MODAL = "restream_modal"
RESTREAM_DESTINATION_BLOCK = "restream_destination"
RESTREAM_URL_BLOCK = "restream_server_url"
RESTREAM_KEY_BLOCK = "restream_stream_key"
RESTREAM_DESTINATION = "destination"
RESTREAM_URL = "server_url"
RESTREAM_KEY = "stream_key"
