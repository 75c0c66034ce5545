"""Action, block and callback ids: one name, shared by the block builders and the handlers."""

# Buttons on the room message. Their value is the room id.
JOIN = "room_join"
POLL = "room_poll"
GO_LIVE = "room_go_live"
STOP_STREAM = "room_stop_stream"
END = "room_end"
SUMMARY = "room_summary"
RECORD = "room_record"
STOP_RECORDING = "room_stop_recording"

# The Get recording button under a recording-ready post in a room's thread. Its value is the recording id.
GET_RECORDING = "recording_get"

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

# The Go live modal (`/meet restream <room>`, the Go live button).
RESTREAM_MODAL = "restream_modal"
RESTREAM_DESTINATION_BLOCK = "restream_destination"
RESTREAM_URL_BLOCK = "restream_server_url"
RESTREAM_KEY_BLOCK = "restream_stream_key"
RESTREAM_DESTINATION = "destination"
RESTREAM_URL = "server_url"
RESTREAM_KEY = "stream_key"
