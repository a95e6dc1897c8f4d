"""Scheduled messages, as Twilio's Message Scheduling docs describe them.

``SendAt`` with ``ScheduleType=fixed`` through a Messaging Service makes a
message ``scheduled``; it is sent at ``SendAt``, which must be 15 minutes to
35 days after the request (error 35114), and until then it can be canceled
with ``Status=canceled`` (error 30409 once it is no longer scheduled).
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from norq_sandbox import SandboxServer

from tests_sandbox.conftest import MESSAGES_PATH, VALID_FROM, CallbackReceiver, send
from tests_sandbox.test_messages_api import error_of

SERVICE = "MG" + "b" * 32


def schedule(
    api: httpx.Client, sandbox: SandboxServer, ahead: dt.timedelta, **params: str | None
) -> httpx.Response:
    send_at = sandbox.clock.now() + ahead
    return send(
        api,
        From=None,
        MessagingServiceSid=SERVICE,
        ScheduleType="fixed",
        SendAt=send_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **params,
    )


def message_path(sid: str) -> str:
    return MESSAGES_PATH.replace(".json", f"/{sid}.json")


def test_a_scheduled_message_is_answered_scheduled_and_held(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    response = schedule(api, sandbox, dt.timedelta(minutes=20))

    assert response.status_code == 201
    created = response.json()
    assert created["status"] == "scheduled"
    assert api.get(message_path(created["sid"])).json()["status"] == "scheduled"
    with pytest.raises(TimeoutError):
        sandbox.wait_for_status(created["sid"], "queued", timeout=0.3)


def test_a_scheduled_message_is_released_at_send_at(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sid = schedule(api, sandbox, dt.timedelta(minutes=20)).json()["sid"]

    sandbox.clock.advance(20 * 60)
    message = sandbox.wait_for_status(sid, "delivered")

    statuses = [step.status for step in message.timeline]
    assert statuses == ["scheduled", "queued", "sending", "sent", "delivered"]
    assert message.date_sent is not None
    assert message.date_sent >= message.draft.send_at  # type: ignore[operator]


def test_moving_the_clock_short_of_send_at_keeps_it_scheduled(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sid = schedule(api, sandbox, dt.timedelta(minutes=30)).json()["sid"]

    sandbox.clock.advance(10 * 60)

    with pytest.raises(TimeoutError):
        sandbox.wait_for_status(sid, "queued", timeout=0.3)


def test_canceling_a_scheduled_message(api: httpx.Client, sandbox: SandboxServer) -> None:
    sid = schedule(api, sandbox, dt.timedelta(hours=1)).json()["sid"]

    response = api.post(message_path(sid), data={"Status": "canceled"})

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    fetched = api.get(message_path(sid))
    assert (fetched.status_code, fetched.json()["status"]) == (200, "canceled")
    sandbox.clock.advance(2 * 3600)
    with pytest.raises(TimeoutError):
        sandbox.wait_for_status(sid, "queued", timeout=0.3)
    assert sandbox.message(sid).status == "canceled"  # type: ignore[union-attr]


def test_a_message_past_scheduled_cannot_be_canceled(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sid = send(api).json()["sid"]
    sandbox.wait_for_status(sid, "delivered")

    response = api.post(message_path(sid), data={"Status": "canceled"})

    assert error_of(response) == (400, 30409)
    assert sandbox.message(sid).status == "delivered"  # type: ignore[union-attr]


def test_canceling_an_unknown_message_answers_20404(api: httpx.Client) -> None:
    response = api.post(message_path("SM" + "0" * 32), data={"Status": "canceled"})

    assert error_of(response) == (404, 20404)


def test_an_empty_body_redacts_the_message(api: httpx.Client, sandbox: SandboxServer) -> None:
    sid = send(api, Body="secret code 1234").json()["sid"]

    response = api.post(message_path(sid), data={"Body": ""})

    assert response.status_code == 200
    assert response.json()["body"] == ""
    assert api.get(message_path(sid)).json()["body"] == ""


@pytest.mark.parametrize("data", [{"Status": "sent"}, {"Body": "new text"}, {}])
def test_other_updates_are_refused(api: httpx.Client, data: dict[str, str]) -> None:
    sid = send(api).json()["sid"]

    assert error_of(api.post(message_path(sid), data=data)) == (400, 20001)


@pytest.mark.parametrize(
    "ahead",
    [
        dt.timedelta(minutes=14),
        dt.timedelta(minutes=-5),
        dt.timedelta(days=35, minutes=1),
    ],
)
def test_send_at_outside_15_minutes_to_35_days_answers_35114(
    api: httpx.Client, sandbox: SandboxServer, ahead: dt.timedelta
) -> None:
    assert error_of(schedule(api, sandbox, ahead)) == (400, 35114)
    assert sandbox.messages() == []


@pytest.mark.parametrize("ahead", [dt.timedelta(minutes=16), dt.timedelta(days=34, hours=23)])
def test_send_at_inside_the_window_is_scheduled(
    api: httpx.Client, sandbox: SandboxServer, ahead: dt.timedelta
) -> None:
    assert schedule(api, sandbox, ahead).json()["status"] == "scheduled"


def test_a_send_at_that_is_not_iso_8601_answers_35114(api: httpx.Client) -> None:
    response = send(
        api,
        From=None,
        MessagingServiceSid=SERVICE,
        ScheduleType="fixed",
        SendAt="next tuesday",
    )

    assert error_of(response) == (400, 35114)


def test_without_a_messaging_service_scheduling_is_dropped_and_the_message_sent(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    # Twilio: with only a From, "the scheduling parameters will be dropped".
    send_at = (sandbox.clock.now() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    sid = send(api, ScheduleType="fixed", SendAt=send_at).json()["sid"]

    assert sandbox.wait_for_status(sid, "delivered").draft.send_at is None


def test_scheduled_and_canceled_reach_the_status_callback_with_from(
    api: httpx.Client, sandbox: SandboxServer, receiver: CallbackReceiver
) -> None:
    sid = schedule(api, sandbox, dt.timedelta(hours=1), StatusCallback=receiver.url).json()["sid"]
    receiver.wait_for(1)

    api.post(message_path(sid), data={"Status": "canceled"})
    callbacks = receiver.wait_for(2)

    assert [dict(c.params)["MessageStatus"] for c in callbacks] == ["scheduled", "canceled"]
    assert all(dict(c.params)["From"] == VALID_FROM for c in callbacks)


def test_messaging_service_callbacks_carry_the_from_the_service_picked(
    api: httpx.Client, receiver: CallbackReceiver
) -> None:
    send(api, From=None, MessagingServiceSid=SERVICE, StatusCallback=receiver.url)

    callbacks = receiver.wait_for(5)

    assert [dict(c.params)["MessageStatus"] for c in callbacks] == [
        "accepted",
        "queued",
        "sending",
        "sent",
        "delivered",
    ]
    for callback in callbacks:
        params = dict(callback.params)
        assert params["From"] == VALID_FROM
        assert params["MessagingServiceSid"] == SERVICE


def test_the_clock_moves_through_the_admin_endpoint(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sid = schedule(api, sandbox, dt.timedelta(minutes=30)).json()["sid"]

    answer = httpx.post(f"{sandbox.url}/_sandbox/clock", json={"advance": 1800})

    assert answer.status_code == 200
    assert answer.json()["offset_seconds"] == 1800
    sandbox.wait_for_status(sid, "delivered")


def test_the_clock_refuses_to_go_back(sandbox: SandboxServer) -> None:
    answer = httpx.post(f"{sandbox.url}/_sandbox/clock", json={"advance": -5})

    assert answer.status_code == 400
    assert "forward" in answer.json()["error"]
