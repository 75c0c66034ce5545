from __future__ import annotations

import pytest

from bot.devtools.serving import free_port

from .helpers import eventually


def deliveries(control, count=1):
    """The delivery log once it holds `count` entries: they are written after the POST returns."""
    return eventually(lambda: found if len(found := control.get("/deliveries").json()) >= count else None)


def subscribe(api, endpoint, events, **body):
    response = api.post("/webhooks", json={"endpoint": endpoint, "events": events, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_events_lists_the_snake_case_names(api):
    events = api.get("/events").json()

    for name in ("session_started", "session_ended", "session_summary_ready", "recording_ready",
                 "participant_joined", "participant_left"):
        assert name in events


def test_create_list_get_and_delete_webhooks(api, hooks):
    webhook = subscribe(api, hooks.url(), ["session_ended"], name="Meetops", authorization_header="Bearer t0k")

    assert webhook["endpoint"] == hooks.url()
    assert (webhook["name"], webhook["authorization_header"]) == ("Meetops", "Bearer t0k")
    assert webhook["events"] == ["session_ended"]
    assert webhook["created_at"] == webhook["updated_at"] == "2026-03-02T09:00:00Z"
    assert api.get("/webhooks").json() == {"total_count": 1, "data": [webhook]}
    assert api.get(f"/webhooks/{webhook['id']}").json() == webhook
    assert api.delete(f"/webhooks/{webhook['id']}").status_code == 204
    assert api.get(f"/webhooks/{webhook['id']}").status_code == 404
    assert api.delete(f"/webhooks/{webhook['id']}").json() == {"message": "Webhook not found."}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"endpoint": ["The endpoint field is required."], "events": ["The events field is required."]}),
        (
            {"endpoint": "ftp://x/y", "events": ["recording_ready"]},
            {"endpoint": ["The endpoint field must be a valid URL."]},
        ),
        (
            {"endpoint": "https://example.com/" + "x" * 100, "events": ["session_ended"]},
            {"endpoint": ["The endpoint field must not be greater than 100 characters."]},
        ),
        ({"endpoint": "https://example.com", "events": []}, {"events": ["The events field is required."]}),
        ({"endpoint": "https://x.io", "events": ["SessionEnded"]}, {"events.0": ["The selected events.0 is invalid."]}),
        (
            {"endpoint": "https://example.com", "events": ["session_ended"], "name": "ab"},
            {"name": ["The name field must be at least 3 characters."]},
        ),
    ],
)
def test_webhook_validation(api, body, errors):
    response = api.post("/webhooks", json=body)

    assert response.status_code == 422
    assert response.json()["errors"] == errors


def test_session_lifecycle_is_delivered_in_order_with_the_authorization_header(api, control, room, hooks, clock):
    subscribe(api, hooks.url(), ["session_started", "participant_joined", "participant_left", "session_ended"],
              authorization_header="Bearer shared-secret")
    session_id = control.post("/rooms/standup/join", json={"name": "Ada", "role": "moderator"}).json()["id"]
    clock.advance(minutes=15)
    control.post("/rooms/standup/end")

    received = hooks.wait(4)

    assert [r["body"]["event"] for r in received] == ["session_started", "participant_joined", "participant_left",
                                                      "session_ended"]
    assert {r["authorization"] for r in received} == {"Bearer shared-secret"}
    joined, ended = received[1]["body"], received[3]["body"]
    assert joined["data"] == {
        "room_id": room["id"],
        "session_id": session_id,
        "participant_id": joined["data"]["participant_id"],
        "name": "Ada",
        "role": "moderator",
    }
    assert ended["timestamp"] == "2026-03-02T09:15:00Z"
    assert ended["data"] == {
        "room_id": room["id"],
        "session_id": session_id,
        "friendly_url": "standup",
        "start_time": "2026-03-02T09:00:00Z",
        "end_time": "2026-03-02T09:15:00Z",
        "participants_total": 1,
    }


def test_only_subscribed_events_are_delivered(api, control, room, hooks, state):
    subscribe(api, hooks.url(), ["session_ended"])
    control.post("/rooms/standup/join", json={})
    control.post("/rooms/standup/end")

    assert [r["body"]["event"] for r in hooks.wait(1)] == ["session_ended"]
    assert [d["event"] for d in deliveries(control)] == ["session_ended"]


def test_summary_and_recording_events(api, control, hooks):
    api.post("/rooms", json={"friendly_url": "talk", "transcription_enabled": True})
    subscribe(api, hooks.url(), ["session_summary_ready", "recording_ready"])
    session_id = control.post("/rooms/talk/join", json={}).json()["id"]
    control.post("/rooms/talk/end")
    job_id = control.post(f"/sessions/{session_id}/summary", json={"summary": "Done."}).json()["job_id"]
    recording_id = control.post(f"/sessions/{session_id}/recording").json()["id"]

    received = [r["body"] for r in hooks.wait(2)]

    room_id = api.get("/rooms/talk").json()["id"]
    assert [(r["event"], r["data"]) for r in received] == [
        ("session_summary_ready", {"room_id": room_id, "session_id": session_id, "job_id": job_id}),
        ("recording_ready", {"room_id": room_id, "session_id": session_id, "recording_id": recording_id}),
    ]


def test_a_failed_delivery_is_retried_once(api, control, room, hooks):
    subscribe(api, hooks.url("flaky"), ["session_started"])
    control.post("/rooms/standup/join", json={})

    assert len(hooks.wait(2, "flaky")) == 2
    assert [(d["attempts"], d["status"], d["error"]) for d in deliveries(control)] == [(2, 204, None)]


def test_a_dead_endpoint_is_dropped_after_the_retry(api, control, room, hooks):
    subscribe(api, hooks.url("down"), ["session_started"])
    subscribe(api, f"http://127.0.0.1:{free_port()}/nobody-home", ["session_started"])
    response = control.post("/rooms/standup/join", json={})

    assert response.status_code == 200  # the API answered without waiting for deliveries
    assert len(hooks.wait(2, "down")) == 2
    by_status = sorted(deliveries(control, 2), key=lambda d: d["status"] or 0)
    assert by_status[0]["attempts"] == 2 and by_status[0]["status"] is None
    assert by_status[0]["error"].startswith("ConnectError")
    assert (by_status[1]["attempts"], by_status[1]["status"], by_status[1]["error"]) == (2, 503, "HTTP 503")


def test_a_deleted_webhook_gets_nothing_more(api, control, room, hooks, state):
    webhook = subscribe(api, hooks.url(), ["session_started", "session_ended"])
    control.post("/rooms/standup/join", json={})
    hooks.wait(1)
    api.delete(f"/webhooks/{webhook['id']}")
    control.post("/rooms/standup/end")

    assert [r["body"]["event"] for r in hooks.wait(2, timeout=0.3)] == ["session_started"]
