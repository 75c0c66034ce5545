"""Action, block and callback ids: one name, shared by the block builders and the handlers."""

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
