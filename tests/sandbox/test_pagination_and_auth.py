from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def five_rooms(api):
    return [api.post("/rooms", json={"friendly_url": f"room-{n}"}).json()["id"] for n in range(5)]


def test_lists_are_newest_first_by_default(api, five_rooms):
    body = api.get("/rooms").json()

    assert body["total_count"] == 5
    assert [r["id"] for r in body["data"]] == five_rooms[::-1]


def test_limit_offset_and_order(api, five_rooms):
    desc = api.get("/rooms", params={"limit": 2, "offset": 1}).json()
    asc = api.get("/rooms", params={"limit": 2, "offset": 1, "order": "asc"}).json()
    beyond = api.get("/rooms", params={"offset": 10}).json()

    assert [r["id"] for r in desc["data"]] == [five_rooms[3], five_rooms[2]]
    assert [r["id"] for r in asc["data"]] == five_rooms[1:3]
    assert desc["total_count"] == asc["total_count"] == beyond["total_count"] == 5
    assert beyond["data"] == []


def test_after_continues_from_an_item(api, five_rooms):
    by_id = api.get("/rooms", params={"order": "asc", "after": five_rooms[1], "limit": 2}).json()
    by_url = api.get("/rooms", params={"after": "room-1"}).json()

    assert [r["id"] for r in by_id["data"]] == five_rooms[2:4]
    assert [r["id"] for r in by_url["data"]] == [five_rooms[0]]
    assert api.get("/rooms", params={"after": "nope"}).status_code == 422


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"limit": 101}, "limit", "The limit field must not be greater than 100."),
        ({"limit": 0}, "limit", "The limit field must be at least 1."),
        ({"limit": "ten"}, "limit", "The limit field must be an integer."),
        ({"offset": -1}, "offset", "The offset field must be at least 0."),
        ({"order": "newest"}, "order", "The selected order is invalid."),
    ],
)
def test_pagination_validation(api, params, field, message):
    response = api.get("/rooms", params=params)

    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {field: [message]}}


def test_basic_auth_with_team_id_and_key(sandbox):
    state = sandbox.state
    good = httpx.get(sandbox.api_url + "/rooms", auth=(state.team_id, state.developer_key), trust_env=False)
    wrong_team = httpx.get(sandbox.api_url + "/rooms", auth=("other-team", state.developer_key), trust_env=False)

    assert good.status_code == 200
    assert wrong_team.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic !!!"}, {"Authorization": "Token kkkk"}],
)
def test_anything_else_is_unauthenticated(sandbox, headers):
    response = httpx.post(sandbox.api_url + "/rooms", json={}, headers=headers, trust_env=False)

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthenticated."}
    assert sandbox.state.rooms == {}


def test_unknown_paths_and_methods_answer_json(api):
    missing = api.get("/nothing-here")
    wrong_method = api.put("/rooms")

    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    assert (wrong_method.status_code, wrong_method.json()) == (405, {"message": "Method Not Allowed"})


def test_malformed_json_is_a_400(api):
    response = api.post("/rooms", content=b"{not json", headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json() == {"message": "The request body is not valid JSON."}
