from __future__ import annotations

import time
import uuid

import pytest

from bot.sandbox.digitalsamba.pagination import Page, paginate
from bot.sandbox.digitalsamba.present import session_json


def join(control, room="standup", **body):
    response = control.post(f"/rooms/{room}/join", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_join_starts_a_live_session(api, control, room, clock):
    session = join(control, name="Ada", role="moderator")
    clock.advance(minutes=2)
    join(control, name="Guest", count=2)

    assert session["live"] is True
    assert session["joined"][0]["name"] == "Ada"
    assert session["joined"][0]["role"] == "moderator"
    live = api.get("/rooms/live").json()
    assert live == {
        "total_count": 1,
        "data": [
            {
                "id": room["id"],
                "external_id": None,
                "start_time": "2026-03-02T09:00:00Z",
                "session_duration": 120,
                "live_participants": 3,
            }
        ],
    }
    assert api.get("/rooms/standup/live").json() == live["data"][0]
    listed = api.get("/sessions").json()["data"][0]
    assert (listed["id"], listed["participants_live"], listed["participants_total"]) == (session["id"], 3, 3)


def test_room_live_without_a_session_reads_zero(api, room):
    assert api.get("/rooms/standup/live").json() == {
        "id": room["id"],
        "external_id": None,
        "start_time": None,
        "session_duration": 0,
        "live_participants": 0,
    }
    assert api.get("/rooms/live").json() == {"total_count": 0, "data": []}


def test_join_control_validation(control, room):
    assert control.post("/rooms/standup/join", json={"role": "king"}).status_code == 422
    assert control.post("/rooms/nope/join", json={}).status_code == 404


def test_a_full_room_refuses_more_participants(api, control):
    api.post("/rooms", json={"friendly_url": "tiny", "max_participants": 2})
    join(control, "tiny", count=2)

    response = control.post("/rooms/tiny/join", json={})
    assert response.status_code == 422
    assert response.json() == {"message": "The room is full."}


def test_end_session_through_the_api(api, control, room, clock):
    session_id = join(control, name="Ada")["id"]
    clock.advance(minutes=30)

    response = api.post(f"/sessions/{session_id}/end")

    assert response.status_code == 200
    assert response.json() is None
    stats = api.get(f"/sessions/{session_id}").json()
    assert stats["session_live"] is False
    assert stats["session_end_time"] == "2026-03-02T09:30:00Z"
    assert stats["session_duration"] == 1800
    assert stats["active_participants"] == 1
    assert stats["live_participants"] == 0
    assert api.get("/rooms/live").json()["total_count"] == 0

    again = api.post(f"/sessions/{session_id}/end")
    assert (again.status_code, again.json()) == (422, {"message": "The session is not live."})
    unknown = api.post(f"/sessions/{uuid.uuid4()}/end")
    assert (unknown.status_code, unknown.json()) == (404, {"message": "Session not found."})


def test_the_last_participant_leaving_ends_the_session(api, control, room):
    joined = join(control, name="Ada")
    join(control, name="Bob")

    control.post("/rooms/standup/leave", json={"name": "Bob"})
    assert api.get("/rooms/standup/live").json()["live_participants"] == 1
    control.post("/rooms/standup/leave", json={"participant_id": joined["joined"][0]["id"]})

    assert api.get(f"/sessions/{joined['id']}").json()["session_live"] is False
    assert control.post("/rooms/standup/leave", json={"name": "Ada"}).status_code == 422


def test_control_end_and_a_new_join_starts_a_new_session(api, control, room):
    first = join(control)["id"]
    assert control.post("/rooms/standup/end").json()["live"] is False
    second = join(control)["id"]

    assert first != second
    assert control.post("/rooms/nope/end").status_code == 404
    assert [s["id"] for s in api.get("/rooms/standup/sessions").json()["data"]] == [second, first]


def test_session_filters(api, control, room, clock):
    api.post("/rooms", json={"friendly_url": "retro"})
    control.post("/sessions", json={"room": "standup", "start_time": "2026-02-27T09:00:00Z", "count": 3,
                                    "interval_minutes": 1440})  # Feb 27, 28, Mar 1
    control.post("/sessions", json={"room": "retro", "start_time": "2026-02-28T15:00:00Z"})
    live_id = join(control)["id"]

    def ids(path="/sessions", **params):
        return [s["start_time"][:10] for s in api.get(path, params=params).json()["data"]]

    assert ids() == ["2026-03-02", "2026-03-01", "2026-02-28", "2026-02-28", "2026-02-27"]
    assert ids(live="true") == ["2026-03-02"]
    assert ids(live="false", order="asc") == ["2026-02-27", "2026-02-28", "2026-02-28", "2026-03-01"]
    assert ids(date_start="2026-02-28", date_end="2026-03-01") == ["2026-03-01", "2026-02-28", "2026-02-28"]
    assert ids(room_id=room["id"], date_end="2026-02-28") == ["2026-02-28", "2026-02-27"]
    assert ids("/rooms/retro/sessions") == ["2026-02-28"]
    assert api.get("/sessions", params={"live": "1"}).json()["data"][0]["id"] == live_id

    bad = api.get("/sessions", params={"date_start": "02/28/2026", "live": "maybe"})
    assert bad.status_code == 422
    assert bad.json()["errors"] == {
        "live": ["The live field must be true or false."],
        "date_start": ["The date start field must match the format Y-m-d."],
    }
    backwards = api.get("/sessions", params={"date_start": "2026-03-01", "date_end": "2026-02-01"})
    assert backwards.json()["errors"] == {
        "date_end": ["The date end field must be a date after or equal to date start."]
    }


def test_sessions_of_a_deleted_room_remain_listed(api, control, room):
    session_id = join(control)["id"]
    api.delete("/rooms/standup")

    listed = api.get("/sessions", params={"room_id": room["id"]}).json()["data"]
    assert [(s["id"], s["room_is_deleted"], s["live"]) for s in listed] == [(session_id, True, False)]


def test_bulk_history_is_fast_and_pages_stay_fast(api, control, state, room):
    started = time.perf_counter()
    made = control.post("/sessions", json={"room": "standup", "count": 20_000, "duration_minutes": 30,
                                           "participants": 4})
    assert made.status_code == 200
    assert made.json()["created"] == 20_000
    assert time.perf_counter() - started < 3

    started = time.perf_counter()
    page = api.get("/sessions", params={"limit": 100, "offset": 10_000}).json()
    assert time.perf_counter() - started < 0.5
    assert page["total_count"] == 20_000
    assert len(page["data"]) == 100
    assert page["data"][0]["participants_total"] == 4
    starts = [s["start_time"] for s in page["data"]]
    assert starts == sorted(starts, reverse=True)

    # The lookup and paging themselves take milliseconds, however long the history.
    started = time.perf_counter()
    for _ in range(10):
        paginate(state.find_sessions(room_id=room["id"], live=False), Page(offset=10_000), session_json)
    assert (time.perf_counter() - started) / 10 < 0.02


def test_history_validation(control, room):
    future = control.post("/sessions", json={"room": "standup", "start_time": "2026-03-02T08:45:00Z"})
    assert future.status_code == 422
    assert future.json()["errors"] == {"start_time": ["Historical sessions must all have ended by now."]}
    assert control.post("/sessions", json={"room": "nope"}).status_code == 404
    assert control.post("/sessions", json={"count": 0}).json()["errors"].keys() == {"room", "count"}


@pytest.mark.parametrize("transcription", [False, True])
def test_summary_needs_a_transcribed_session(api, control, transcription):
    api.post("/rooms", json={"friendly_url": "talk", "transcription_enabled": transcription})
    session_id = join(control, "talk")["id"]
    control.post("/rooms/talk/end")

    response = api.get(f"/sessions/{session_id}/summary")
    if transcription:
        body = response.json()
        assert (response.status_code, body["status"], body["summary"]) == (200, "IN_PROGRESS", "")
        assert uuid.UUID(body["job_id"])
    else:
        assert (response.status_code, response.json()) == (
            404,
            {"message": "No transcript is available for this session."},
        )


def test_summary_made_ready_by_control(api, control):
    api.post("/rooms", json={"friendly_url": "talk", "transcription_enabled": True})
    session_id = join(control, "talk")["id"]
    assert control.post(f"/sessions/{session_id}/summary", json={"summary": "x"}).status_code == 422  # still live
    control.post("/rooms/talk/end")
    job_id = api.get(f"/sessions/{session_id}/summary").json()["job_id"]

    made = control.post(f"/sessions/{session_id}/summary", json={"summary": "We agreed."})

    assert made.json() == {"job_id": job_id, "status": "READY", "summary": "We agreed."}
    assert api.get(f"/sessions/{session_id}/summary").json()["summary"] == "We agreed."


def test_control_summary_without_a_text_is_canned(api, control):
    api.post("/rooms", json={"friendly_url": "talk", "transcription_enabled": True})
    session_id = join(control, "talk")["id"]
    control.post("/rooms/talk/end")

    made = control.post(f"/sessions/{session_id}/summary")

    assert made.json()["status"] == "READY"
    assert made.json()["summary"].count("\n\n") >= 2


def test_summary_ready_after_n_polls(api, control):
    assert control.put("/config", json={"summary_ready_after_polls": 2}).json()["summary_ready_after_polls"] == 2
    api.post("/rooms", json={"friendly_url": "talk", "transcription_enabled": True})
    session_id = join(control, "talk")["id"]
    control.post("/rooms/talk/end")

    statuses = [api.get(f"/sessions/{session_id}/summary").json()["status"] for _ in range(3)]

    assert statuses == ["IN_PROGRESS", "IN_PROGRESS", "READY"]
    summary = api.get(f"/sessions/{session_id}/summary").json()["summary"]
    assert summary.count("\n\n") >= 2


def test_history_summaries(api, control, room):
    ids = control.post("/sessions", json={"room": "standup", "count": 2, "summary": "Old news."}).json()["ids"]
    plain = control.post("/sessions", json={"room": "standup"}).json()["ids"][0]

    assert [api.get(f"/sessions/{i}/summary").json()["summary"] for i in ids] == ["Old news.", "Old news."]
    assert api.get(f"/sessions/{plain}/summary").status_code == 404
