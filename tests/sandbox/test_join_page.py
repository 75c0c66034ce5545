from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest


def token(state, room, **claims):
    payload = {"td": state.team_id, "rd": room["id"], "u": "Ada Lovelace", "role": "moderator", **claims}
    return jwt.encode(payload, state.developer_key, algorithm="HS256")


def open_link(room, **params):
    return httpx.get(room["room_url"], params=params, trust_env=False)


@pytest.fixture
def private_room(api):
    return api.post("/rooms", json={"friendly_url": "board", "privacy": "private"}).json()


def test_a_valid_token_joins_and_starts_a_session(api, state, private_room, clock):
    exp = int((clock.now + timedelta(hours=1)).timestamp())
    page = open_link(private_room, token=token(state, private_room, exp=exp, ud="U123"))

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Joined board as Ada Lovelace (moderator)" in page.text
    live = api.get("/rooms/board/live").json()
    assert live["live_participants"] == 1
    [participant] = state.live_participants(private_room["id"])
    assert (participant.name, participant.role, participant.external_id) == ("Ada Lovelace", "moderator", "U123")


def test_names_are_escaped(state, private_room):
    page = open_link(private_room, token=token(state, private_room, u="<b>Eve</b>"))

    assert "&lt;b&gt;Eve&lt;/b&gt;" in page.text


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"td": "other-team"}, "another team"),
        ({"rd": "other-room"}, "another room"),
        ({"exp": 0}, "expired"),
        ({"role": "king"}, "role king"),
    ],
)
def test_refused_tokens(state, private_room, claims, reason):
    page = open_link(private_room, token=token(state, private_room, **claims))

    assert page.status_code == 403
    assert reason in page.text
    assert state.live_sessions() == []


def test_tokens_follow_the_sandbox_clock(state, private_room, clock):
    not_before = int((clock.now + timedelta(minutes=10)).timestamp())
    early = token(state, private_room, nbf=not_before, exp=not_before + 60)

    assert open_link(private_room, token=early).status_code == 403
    clock.advance(minutes=10)
    assert open_link(private_room, token=early).status_code == 200
    clock.advance(minutes=2)
    assert open_link(private_room, token=early).status_code == 403


def test_a_token_signed_with_another_key_is_refused(state, private_room):
    forged = jwt.encode({"td": state.team_id, "rd": private_room["id"]}, "x" * 40, algorithm="HS256")

    page = open_link(private_room, token=forged)

    assert page.status_code == 403
    assert "invalid" in page.text


def test_private_rooms_need_a_token(private_room):
    page = open_link(private_room)

    assert page.status_code == 403
    assert "private" in page.text


def test_public_rooms_let_guests_in(api, room):
    page = open_link(room)

    assert page.status_code == 200
    assert "Joined standup as Guest (attendee)" in page.text
    assert api.get("/rooms/standup/live").json()["live_participants"] == 1


def test_unknown_room_link(sandbox):
    assert httpx.get(sandbox.url + "/r/nowhere", trust_env=False).status_code == 404
