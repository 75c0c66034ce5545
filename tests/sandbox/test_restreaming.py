from __future__ import annotations

import json

import pytest

KEY = "sk-live-abc123"


@pytest.fixture
def live_room(control, room):
    control.post("/rooms/standup/join", json={"name": "Ada"})
    return room


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"type": "youtube"}, {"stream_key": ["The stream key field is required."]}),
        ({"stream_key": KEY}, {"type": ["The type field is required when server url is not present."]}),
        (
            {"stream_key": KEY, "type": "youtube", "server_url": "rtmp://x/live"},
            {"type": ["The type field is prohibited when server url is present."]},
        ),
        ({"stream_key": KEY, "type": "twitch"}, {"type": ["The selected type is invalid."]}),
        (
            {"stream_key": KEY, "server_url": "https://x/live"},
            {"server_url": ["The server url field must start with one of the following: rtmp://, rtmps://."]},
        ),
    ],
)
def test_start_validation(api, live_room, body, errors):
    response = api.post("/rooms/standup/restreamers/start", json=body)

    assert response.status_code == 422
    assert response.json()["errors"] == errors


def test_start_and_stop(api, live_room, state):
    started = api.post("/rooms/standup/restreamers/start", json={"type": "youtube", "stream_key": KEY})
    again = api.post("/rooms/standup/restreamers/start", json={"server_url": "rtmps://a/live", "stream_key": KEY})
    stopped = api.post("/rooms/standup/restreamers/stop")
    stopped_again = api.post("/rooms/standup/restreamers/stop")

    assert (started.status_code, started.json()) == (200, None)
    assert (again.status_code, again.json()) == (422, {"message": "The room is already restreaming."})
    assert (stopped.status_code, stopped.json()) == (200, None)
    assert (stopped_again.status_code, stopped_again.json()) == (422, {"message": "The room is not restreaming."})


def test_needs_a_live_session(api, room):
    response = api.post("/rooms/standup/restreamers/start", json={"type": "vimeo", "stream_key": KEY})

    assert (response.status_code, response.json()) == (422, {"message": "The room has no live session."})


def test_ending_the_session_stops_the_restream(api, control, live_room, state):
    api.post("/rooms/standup/restreamers/start", json={"type": "cloudflare", "stream_key": KEY})
    control.post("/rooms/standup/end")

    assert state.restreams == {}


def test_destination_can_reject_the_key(api, live_room):
    response = api.post("/rooms/standup/restreamers/start", json={"type": "youtube", "stream_key": "invalid"})

    assert response.status_code == 422
    assert response.json() == {"message": "The stream key was rejected by the destination."}


def test_the_stream_key_never_leaves_the_sandbox(api, control, live_room, state):
    api.post("/rooms/standup/restreamers/start", json={"type": "youtube", "stream_key": KEY})
    api.post("/rooms/standup/restreamers/start", json={"type": "youtube", "stream_key": KEY, "server_url": "x"})

    log = control.get("/requests").json()
    starts = [entry for entry in log if entry["path"].endswith("/restreamers/start")]
    assert [entry["json"]["stream_key"] for entry in starts] == ["***", "***"]
    everything = json.dumps(log) + json.dumps(control.get("/state").json()) + repr(vars(state))
    assert KEY not in everything
