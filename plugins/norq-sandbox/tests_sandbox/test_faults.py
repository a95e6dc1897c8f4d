"""Injected faults: what the next requests suffer, and proof that nothing was created."""

from __future__ import annotations

import time

import httpx
import pytest
from norq_sandbox import SandboxServer
from norq_sandbox.faults import Fault, FaultPlan, FaultSpecError, parse_counted, parse_fault

from tests_sandbox.conftest import send

# -- the fault language ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("429", Fault("429")),
        ("429:2", Fault("429", 2.0)),
        ("500", Fault("500")),
        ("502", Fault("502")),
        ("503", Fault("503")),
        ("delay:0.5", Fault("delay", 0.5)),
        ("drop", Fault("drop")),
        ("accept-drop", Fault("accept-drop")),
    ],
)
def test_fault_specs_parse(spec: str, fault: Fault) -> None:
    assert parse_fault(spec) == fault
    assert str(fault) == spec


@pytest.mark.parametrize(
    "spec", ["404", "delay", "drop:1", "accept-drop:1", "accept", "503:2", "teapot", ""]
)
def test_malformed_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_fault(spec)


def test_a_count_suffix_repeats_a_fault() -> None:
    assert parse_counted("503x3") == (Fault("503"), 3)
    assert parse_counted("429:1") == (Fault("429", 1.0), 1)


def test_queued_faults_come_first_then_the_rate() -> None:
    plan = FaultPlan()
    plan.add("503", count=2)
    plan.set_rate(1.0, ["429"], seed=1)

    assert [str(plan.next()) for _ in range(3)] == ["503", "503", "429"]


def test_a_seeded_rate_replays_the_same_faults() -> None:
    def draws(seed: int) -> list[str | None]:
        plan = FaultPlan()
        plan.set_rate(0.5, ["429", "503", "drop"], seed=seed)
        return [None if (f := plan.next()) is None else str(f) for _ in range(50)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    assert 10 < sum(d is not None for d in draws(7)) < 40


def test_a_rate_outside_0_to_1_is_refused() -> None:
    with pytest.raises(FaultSpecError):
        FaultPlan().set_rate(1.5)


# -- faults on the wire -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "status", "code"),
    [("429", 429, 20429), ("500", 500, 20500), ("502", 502, 20500), ("503", 503, 20503)],
)
def test_an_error_fault_answers_that_status_and_creates_nothing(
    api: httpx.Client, sandbox: SandboxServer, spec: str, status: int, code: int
) -> None:
    sandbox.faults.add(spec)

    response = send(api)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert "retry-after" not in response.headers
    assert sandbox.messages() == []
    assert send(api).status_code == 201


def test_a_429_fault_can_carry_retry_after(api: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.faults.add("429:3")

    response = send(api)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"


def test_a_dropped_connection_gets_no_answer_and_creates_nothing(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.faults.add("drop")

    with pytest.raises(httpx.RemoteProtocolError):
        send(api)

    assert sandbox.messages() == []
    (record,) = sandbox.sends()
    assert (record.dropped, record.status, record.fault) == (True, None, "drop")
    assert send(api).status_code == 201


def test_a_delay_fault_answers_normally_after_waiting(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.faults.add("delay:0.3")

    started = time.monotonic()
    response = send(api)

    assert response.status_code == 201
    assert time.monotonic() - started >= 0.3
    assert len(sandbox.messages()) == 1


def test_faults_apply_to_the_api_only(api: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.faults.add("503")

    assert api.get("/_sandbox/messages").status_code == 200
    assert api.get("/").status_code == 200
    assert send(api).status_code == 503


def test_every_request_is_recorded_with_its_outcome(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.faults.add("429:1")
    sandbox.faults.add("503")

    statuses = [send(api, Body=f"attempt {n}").status_code for n in range(3)]
    sends = sandbox.sends()

    assert statuses == [429, 503, 201]
    assert [(r.status, r.fault) for r in sends] == [(429, "429:1"), (503, "503"), (201, None)]
    assert [r.params["Body"] for r in sends] == [["attempt 0"], ["attempt 1"], ["attempt 2"]]
    assert sends[2].message_sid == sandbox.messages()[0].sid
    assert {r.username for r in sends} == {"SK22222222222222222222222222222222"}


# -- the admin endpoint -------------------------------------------------------------------


def test_the_admin_endpoint_queues_faults(api: httpx.Client) -> None:
    plan = api.post("/_sandbox/faults", json={"fault": "503x2"}).json()

    assert plan["queued"] == ["503", "503"]
    assert [send(api).status_code for _ in range(3)] == [503, 503, 201]
    assert api.get("/_sandbox/faults").json()["injected"] == 2


def test_the_admin_endpoint_sets_a_seeded_rate(api: httpx.Client) -> None:
    plan = api.post("/_sandbox/faults", json={"rate": 1, "kinds": ["502"], "seed": 3}).json()

    assert (plan["rate"], plan["kinds"], plan["seed"]) == (1, ["502"], 3)
    assert send(api).status_code == 502
    api.delete("/_sandbox/faults")
    assert send(api).status_code == 201


@pytest.mark.parametrize(
    "payload", [{"fault": "teapot"}, {"rate": 2}, {}, ["503"], {"rate": 0.5, "kinds": "503"}]
)
def test_the_admin_endpoint_refuses_nonsense(api: httpx.Client, payload: object) -> None:
    response = api.post("/_sandbox/faults", json=payload)

    assert response.status_code == 400
    assert response.json()["error"]


def test_reset_forgets_messages_requests_and_faults(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    send(api)
    sandbox.faults.add("503")

    assert api.post("/_sandbox/reset").status_code == 204

    assert sandbox.messages() == []
    assert api.get("/_sandbox/requests").json() == {"requests": []}
    assert send(api).status_code == 201
    assert sandbox.sends()[0].index == 1


def test_the_request_log_is_listable_over_http(api: httpx.Client) -> None:
    sid = send(api).json()["sid"]

    (record,) = api.get("/_sandbox/requests").json()["requests"]

    assert record["method"] == "POST"
    assert record["path"].endswith("/Messages.json")
    assert (record["status"], record["message_sid"], record["dropped"]) == (201, sid, False)


def test_accept_drop_creates_the_message_then_gives_no_answer(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.faults.add("accept-drop")

    with pytest.raises(httpx.RemoteProtocolError):
        send(api, Body="accepted but unanswered")

    (message,) = sandbox.messages()
    assert message.draft.body == "accepted but unanswered"
    (record,) = sandbox.sends()
    assert (record.dropped, record.status, record.fault) == (True, None, "accept-drop")
    assert record.message_sid == message.sid
    assert send(api).status_code == 201
    assert len(sandbox.messages()) == 2


def test_accept_drop_is_a_fault_kind_for_the_random_rate(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.faults.set_rate(1.0, ["accept-drop"], seed=1)

    for _ in range(3):
        with pytest.raises(httpx.RemoteProtocolError):
            send(api)

    assert len(sandbox.messages()) == 3
    assert sandbox.faults.snapshot()["injected"] == 3


def test_reset_zeroes_the_fault_counter(api: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.faults.add("503", count=2)
    send(api)
    api.post("/_sandbox/faults", json={"rate": 0.5, "kinds": ["429"], "seed": 4})
    assert api.get("/_sandbox/faults").json()["injected"] == 1

    assert api.post("/_sandbox/reset").status_code == 204

    assert api.get("/_sandbox/faults").json() == {
        "queued": [],
        "rate": 0.0,
        "kinds": [],
        "seed": None,
        "injected": 0,
    }


def test_the_python_reset_zeroes_the_fault_counter(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.faults.add("503")
    send(api)

    sandbox.reset()

    assert sandbox.faults.snapshot()["injected"] == 0
