from __future__ import annotations

import uuid

import pytest


def test_create_room_with_an_empty_body_uses_defaults(api, sandbox):
    response = api.post("/rooms", json={})

    assert response.status_code == 200
    room = response.json()
    assert uuid.UUID(room["id"]).version == 4
    assert len(room["friendly_url"]) == 32
    assert room["room_url"] == f"{sandbox.url}/r/{room['friendly_url']}"
    assert room["privacy"] == "public"
    assert room["is_locked"] is False
    assert room["default_role"] == "attendee"
    assert room["roles"] == ["moderator", "speaker", "attendee"]
    assert room["transcription_enabled"] is False
    assert room["created_at"] == room["updated_at"] == "2026-03-02T09:00:00Z"


def test_create_room_stores_given_fields_and_ignores_unknown_ones(api):
    body = {
        "friendly_url": "team-standup_2",
        "description": "Daily standup",
        "privacy": "private",
        "external_id": "ch-123",
        "session_length": 60,
        "max_participants": 12,
        "default_role": "speaker",
        "roles": ["moderator", "speaker"],
        "transcription_enabled": True,
        "transcription_auto_start_enabled": True,
        "recordings_enabled": True,
        "no_such_setting": 42,
    }
    room = api.post("/rooms", json=body).json()

    for field, value in body.items():
        if field != "no_such_setting":
            assert room[field] == value
    assert "no_such_setting" not in room


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"friendly_url": "ab"}, "friendly_url", "The friendly url field must be at least 3 characters."),
        ({"friendly_url": "x" * 33}, "friendly_url", "The friendly url field must not be greater than 32 characters."),
        ({"friendly_url": "has space"}, "friendly_url", "The friendly url field format is invalid."),
        ({"description": "ab"}, "description", "The description field must be at least 3 characters."),
        ({"description": "x" * 501}, "description", "The description field must not be greater than 500 characters."),
        ({"privacy": "secret"}, "privacy", "The selected privacy is invalid."),
        ({"session_length": 0}, "session_length", "The session length field must be at least 1."),
        ({"session_length": 1441}, "session_length", "The session length field must not be greater than 1440."),
        ({"session_length": "long"}, "session_length", "The session length field must be an integer."),
        ({"max_participants": 1}, "max_participants", "The max participants field must be at least 2."),
        ({"default_role": "attendee"}, "roles", "The roles field is required when default role is present."),
        ({"default_role": "boss", "roles": ["moderator"]}, "default_role", "The selected default role is invalid."),
        ({"recordings_enabled": "yes"}, "recordings_enabled", "The recordings enabled field must be true or false."),
        ({"expires_at": "2026-01-01 00:00:00"}, "expires_at", "The expires at field must be a date after now."),
        ({"expires_at": "tomorrow"}, "expires_at", "The expires at field must match the format Y-m-d H:i:s."),
    ],
)
def test_create_room_validation(api, body, field, message):
    response = api.post("/rooms", json=body)

    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {field: [message]}}


def test_validation_message_counts_the_other_errors(api):
    response = api.post("/rooms", json={"friendly_url": "a", "privacy": "x", "description": "b"})

    assert response.status_code == 422
    assert response.json()["message"] == "The friendly url field must be at least 3 characters. (and 2 more errors)"
    assert set(response.json()["errors"]) == {"friendly_url", "privacy", "description"}


def test_friendly_url_is_unique_per_team_regardless_of_case(api, room):
    response = api.post("/rooms", json={"friendly_url": "StandUp"})

    assert response.status_code == 422
    assert response.json()["errors"] == {"friendly_url": ["The friendly url has already been taken."]}


def test_room_is_found_by_id_or_friendly_url(api, room):
    assert api.get(f"/rooms/{room['id']}").json() == room
    assert api.get("/rooms/standup").json() == room
    missing = api.get(f"/rooms/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Room not found."}


def test_patch_room_validates_and_updates(api, room, clock):
    clock.advance(minutes=5)
    # Its own friendly url, in another case, is not "taken".
    body = {"description": "Renamed", "privacy": "private", "friendly_url": "StandUp"}
    response = api.patch("/rooms/standup", json=body)

    assert response.status_code == 200
    updated = response.json()
    assert (updated["description"], updated["privacy"]) == ("Renamed", "private")
    assert updated["updated_at"] == "2026-03-02T09:05:00Z"
    assert updated["created_at"] == room["created_at"]

    api.post("/rooms", json={"friendly_url": "other"})
    taken = api.patch("/rooms/standup", json={"friendly_url": "other"})
    assert taken.status_code == 422
    assert taken.json()["errors"] == {"friendly_url": ["The friendly url has already been taken."]}
    # Roles without the current default role would leave the room inconsistent.
    assert api.patch("/rooms/standup", json={"roles": ["moderator"]}).status_code == 422


def test_null_or_blank_clears_optional_settings(api):
    api.post("/rooms", json={"friendly_url": "standup", "description": "Daily", "session_length": 30, "tags": ["a"]})

    room = api.patch("/rooms/standup", json={"description": None, "session_length": "", "tags": None}).json()

    assert (room["description"], room["session_length"], room["tags"]) == (None, None, [])


def test_renamed_room_is_reachable_by_its_new_friendly_url_only(api, room):
    api.patch("/rooms/standup", json={"friendly_url": "retro"})

    assert api.get("/rooms/retro").json()["id"] == room["id"]
    assert api.get("/rooms/standup").status_code == 404


def test_delete_room(api, room):
    response = api.delete(f"/rooms/{room['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert api.get(f"/rooms/{room['id']}").status_code == 404
    assert api.delete(f"/rooms/{room['id']}").status_code == 404
