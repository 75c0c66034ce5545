from __future__ import annotations

import pytest

OPTIONS = [{"text": "Tea"}, {"text": "Coffee"}]


def create_poll(api, **body):
    response = api.post("/rooms/standup/polls", json={"question": "Tea or coffee?", "options": OPTIONS, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_create_poll(api, room):
    poll = create_poll(api, type="multiple", anonymous=True)

    assert poll["question"] == "Tea or coffee?"
    assert poll["status"] == "created"
    assert (poll["multiple"], poll["anonymous"]) == (True, True)
    assert "type" not in poll
    assert [o["text"] for o in poll["options"]] == ["Tea", "Coffee"]
    assert all(o["id"] for o in poll["options"])
    assert poll["created_at"] == "2026-03-02T09:00:00Z"
    assert api.get(f"/rooms/standup/polls/{poll['id']}").json() == poll


def test_deprecated_multiple_flag_still_counts(api, room):
    assert create_poll(api, multiple=True)["multiple"] is True
    assert create_poll(api)["multiple"] is False


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"question": "Tea?", "options": OPTIONS},
            {"question": ["The question field must be at least 5 characters."]},
        ),
        ({"question": "Tea or coffee?"}, {"options": ["The options field is required."]}),
        ({"options": [], "type": "single"}, {"options": ["The options field is required."]}),
        ({"options": [{"label": "Tea"}]}, {"options.0.text": ["The options.0.text field is required."]}),
        (
            {"options": [{"text": "x" * 256}]},
            {"options.0.text": ["The options.0.text field must not be greater than 255 characters."]},
        ),
        ({"options": ["Tea"]}, {"options.0": ["The options.0 field must be an array."]}),
        ({"options": OPTIONS, "type": "ranked"}, {"type": ["The selected type is invalid."]}),
        ({"options": OPTIONS, "anonymous": "no"}, {"anonymous": ["The anonymous field must be true or false."]}),
    ],
)
def test_poll_validation(api, room, body, errors):
    response = api.post("/rooms/standup/polls", json=body)

    assert response.status_code == 422
    assert response.json()["errors"] == errors


def test_list_polls_of_a_room(api, room):
    first, second = create_poll(api), create_poll(api, question="Lunch at noon?")
    api.post("/rooms", json={"friendly_url": "other"})
    api.post("/rooms/other/polls", json={"question": "Elsewhere?", "options": OPTIONS})

    listed = api.get("/rooms/standup/polls").json()

    assert listed["total_count"] == 2
    assert [p["id"] for p in listed["data"]] == [second["id"], first["id"]]
    assert "options" not in listed["data"][0]
    assert api.get(f"/rooms/other/polls/{first['id']}").status_code == 404


def test_results_count_votes_and_name_voters(api, control, room, clock):
    session_id = control.post("/rooms/standup/join", json={"name": "Ada"}).json()["id"]
    poll = create_poll(api)
    tea, coffee = (o["id"] for o in poll["options"])

    control.post(f"/polls/{poll['id']}/votes", json={"option": "Tea", "voter": "Ada"})
    control.post(f"/polls/{poll['id']}/votes", json={"option": tea, "voter": "Bob"})
    control.post(f"/polls/{poll['id']}/votes", json={"option": "coffee", "voter": "Cy"})
    # Single choice: a second vote replaces the first.
    control.post(f"/polls/{poll['id']}/votes", json={"option": "Coffee", "voter": "Bob"})
    clock.advance(minutes=10)
    control.post("/rooms/standup/end")

    results = api.get(f"/rooms/standup/polls/{poll['id']}/results").json()

    assert isinstance(results, list) and len(results) == 1
    result = results[0]
    assert result["session_id"] == session_id
    assert result["status"] == "ended"
    assert (result["started"], result["ended"]) == ("2026-03-02T09:00:00Z", "2026-03-02T09:10:00Z")
    assert result["votes"] == 3
    by_text = {o["text"]: o for o in result["options"]}
    assert by_text["Tea"]["id"] == tea and by_text["Coffee"]["id"] == coffee
    assert [v["name"] for v in by_text["Tea"]["voters"]] == ["Ada"]
    assert sorted(v["name"] for v in by_text["Coffee"]["voters"]) == ["Bob", "Cy"]
    assert (by_text["Tea"]["voted"], by_text["Coffee"]["voted"]) == (1, 2)
    assert api.get(f"/rooms/standup/polls/{poll['id']}/results", params={"session_id": "other"}).json() == []
    ended = control.post(f"/polls/{poll['id']}/votes", json={"option": "Tea", "voter": "Dee"})
    assert (ended.status_code, ended.json()) == (422, {"message": "The poll has ended."})


def test_anonymous_results_have_no_voters(api, control, room):
    poll = create_poll(api, anonymous=True, type="multiple")
    control.post(f"/polls/{poll['id']}/votes", json={"option": "Tea", "voter": "Ada"})
    control.post(f"/polls/{poll['id']}/votes", json={"option": "Coffee", "voter": "Ada"})

    options = api.get(f"/rooms/standup/polls/{poll['id']}/results").json()[0]["options"]

    assert [(o["voted"], "voters" in o) for o in options] == [(1, False), (1, False)]


def test_free_text_polls_collect_answers(api, control, room):
    poll = create_poll(api, type="free", options=[])
    for voter, answer in [("Ada", "Friday"), ("Bob", "Monday"), ("Cy", "Friday")]:
        control.post(f"/polls/{poll['id']}/votes", json={"answer": answer, "voter": voter})

    options = api.get(f"/rooms/standup/polls/{poll['id']}/results").json()[0]["options"]

    assert [(o["text"], o["voted"]) for o in options] == [("Friday", 2), ("Monday", 1)]


def test_vote_validation(api, control, room):
    poll = create_poll(api)

    unknown = control.post(f"/polls/{poll['id']}/votes", json={"option": "Juice", "voter": "Ada"})
    missing = control.post(f"/polls/{poll['id']}/votes", json={})

    assert unknown.json()["errors"] == {"option": ["The selected option is invalid."]}
    assert missing.json()["errors"].keys() == {"voter", "option"}
    assert control.post("/polls/nope/votes", json={}).status_code == 404
