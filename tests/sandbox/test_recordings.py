from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx


def recorded_session(control, room="standup"):
    session_id = control.post(f"/rooms/{room}/join", json={}).json()["id"]
    control.post(f"/rooms/{room}/end")
    recording = control.post(f"/sessions/{session_id}/recording")
    assert recording.status_code == 200, recording.text
    return session_id, recording.json()


def test_recordings_list_and_filters(api, control, room):
    api.post("/rooms", json={"friendly_url": "retro"})
    session_id, first = recorded_session(control)
    _, second = recorded_session(control, "retro")

    assert first == {
        "id": first["id"],
        "name": "standup 2026-03-02 09:00",
        "status": "READY",
        "room_id": room["id"],
        "session_id": session_id,
        "friendly_url": "standup",
        "created_at": "2026-03-02T09:00:00Z",
    }
    assert [r["id"] for r in api.get("/recordings").json()["data"]] == [second["id"], first["id"]]
    assert [r["id"] for r in api.get("/recordings", params={"room_id": room["id"]}).json()["data"]] == [first["id"]]
    assert [r["id"] for r in api.get("/recordings", params={"session_id": session_id}).json()["data"]] == [first["id"]]
    assert api.get("/recordings", params={"status": "IN_PROGRESS"}).json() == {"total_count": 0, "data": []}
    assert api.get("/recordings", params={"status": "done"}).status_code == 422


def test_download_link_works_until_it_expires(api, control, room, sandbox, clock):
    _, recording = recorded_session(control)

    download = api.get(f"/recordings/{recording['id']}/download", params={"valid_for_minutes": 30}).json()

    assert download["valid_until"] == "2026-03-02T09:30:00Z"
    link = urlsplit(download["link"])
    assert download["link"].startswith(f"{sandbox.url}/files/{recording['id']}.mp4?")
    assert int(parse_qs(link.query)["expires"][0]) == int(clock.now.timestamp()) + 1800
    file = httpx.get(download["link"], trust_env=False)
    assert (file.status_code, file.headers["content-type"]) == (200, "video/mp4")
    clock.advance(minutes=31)
    assert httpx.get(download["link"], trust_env=False).status_code == 403
    assert api.get("/recordings/nope/download").status_code == 404
