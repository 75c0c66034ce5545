from __future__ import annotations

import time

import httpx

from bot.sandbox import SandboxState, start_sandbox
from bot.sandbox.digitalsamba.models import Faults


def test_rate_limit_fault_for_the_next_calls(api, control):
    set_faults = control.put("/faults", json={"status": 429, "count": 2, "retry_after": 7})
    assert set_faults.json()["count"] == 2

    first, second, third = (api.get("/rooms") for _ in range(3))

    for response in (first, second):
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert response.json() == {"message": "Too Many Attempts."}
    assert third.status_code == 200
    assert control.get("/faults").json()["status"] is None


def test_server_error_fault_until_cleared_and_only_on_matching_paths(api, control):
    control.put("/faults", json={"status": 503, "paths": "/sessions"})

    assert api.get("/rooms").status_code == 200
    for _ in range(3):
        failed = api.get("/sessions")
        assert (failed.status_code, failed.json()) == (503, {"message": "Server Error"})
    assert control.delete("/faults").status_code == 204
    assert api.get("/sessions").status_code == 200


def test_faults_come_before_auth_and_are_logged(sandbox, control):
    control.put("/faults", json={"status": 500, "count": 1})

    response = httpx.get(sandbox.api_url + "/rooms", trust_env=False)

    assert response.status_code == 500
    assert control.get("/requests").json() == [
        {"method": "GET", "path": "/api/v1/rooms", "query": {}, "json": None, "status": 500}
    ]


def test_latency_fault(api, control, state):
    control.put("/faults", json={"latency_ms": 200})

    started = time.perf_counter()
    assert api.get("/rooms").status_code == 200
    assert time.perf_counter() - started >= 0.2
    # The control API itself is never slowed down.
    started = time.perf_counter()
    control.get("/state")
    assert time.perf_counter() - started < 0.2


def test_faults_can_be_set_in_process(api, state):
    state.faults = Faults(status=502, count=1)

    assert api.get("/rooms").status_code == 502
    assert api.get("/rooms").status_code == 200


def test_fault_validation(control):
    response = control.put("/faults", json={"status": 200, "latency_ms": -1})

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "latency_ms": ["The latency ms field must be at least 0."],
        "status": ["The status field must be at least 400."],
    }


def test_request_log_records_api_calls_only_with_secrets_redacted(api, control):
    api.post("/rooms", json={"friendly_url": "standup"}, params={"verbose": "1"})
    api.post("/webhooks", json={"endpoint": "https://example.com/h", "events": ["session_ended"],
                                "authorization_header": "Bearer s3cret"})
    control.post("/rooms/standup/join", json={})

    log = control.get("/requests").json()

    assert log == [
        {"method": "POST", "path": "/api/v1/rooms", "query": {"verbose": "1"}, "json": {"friendly_url": "standup"},
         "status": 200},
        {"method": "POST", "path": "/api/v1/webhooks", "query": {},
         "json": {"endpoint": "https://example.com/h", "events": ["session_ended"], "authorization_header": "***"},
         "status": 200},
    ]
    assert control.delete("/requests").status_code == 204
    assert control.get("/requests").json() == []


def test_in_process_queries(api, control, state, room):
    api.get("/rooms")
    api.get("/rooms/standup")
    session_id = control.post("/rooms/standup/join", json={"name": "Ada", "count": 2}).json()["id"]
    api.post(f"/sessions/{session_id}/end")

    assert [r.path for r in state.requests_matching("get", "/api/v1/rooms")] == ["/api/v1/rooms"]
    assert [r.status for r in state.requests_matching("POST", "/end")] == [200]
    assert state.live_sessions() == [] and state.live_participants(room["id"]) == []
    control.post("/rooms/standup/join", json={"name": "Bob"})
    assert [p.name for p in state.live_participants(room["id"])] == ["Bob"]
    assert state.live_session(room["id"]) is state.live_sessions()[0]


def test_config_rejects_unknown_options(control):
    response = control.put("/config", json={"summary_ready_after": 1, "webhook_retry_delay": None})

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "summary_ready_after": ["Unknown sandbox option."],
        "webhook_retry_delay": ["The webhook retry delay field is required."],
    }
    assert control.put("/config", json={"summary_ready_after_polls": None}).json()["summary_ready_after_polls"] is None


def test_state_snapshot_and_reset(api, control, room):
    control.post("/rooms/standup/join", json={"count": 3})

    snapshot = control.get("/state").json()

    assert snapshot["team_id"] == "team-1"
    counts = [snapshot[k] for k in ("rooms", "sessions", "live_sessions", "live_participants")]
    assert counts == [1, 1, 1, 3]
    assert "k" * 40 not in str(snapshot)
    assert control.post("/reset").status_code == 204
    assert control.get("/state").json()["rooms"] == 0
    assert api.get("/rooms").json()["total_count"] == 0


def test_start_sandbox_makes_its_own_state_and_credentials():
    with start_sandbox() as server:
        state = server.state
        assert isinstance(state, SandboxState)
        response = httpx.get(server.api_url + "/events", auth=(state.team_id, state.developer_key), trust_env=False)
        assert response.status_code == 200
