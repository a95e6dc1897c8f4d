"""Accepted messages walk Twilio's statuses and each step is a signed status callback."""

from __future__ import annotations

import httpx
from norq_sandbox import DEFAULT_AUTH_TOKEN, SandboxServer

from norq.providers.twilio.signature import is_valid_signature
from tests_sandbox.conftest import CallbackReceiver, send


def test_a_message_walks_queued_sending_sent_delivered(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sid = send(api).json()["sid"]

    message = sandbox.wait_for_status(sid, "delivered")

    assert [step.status for step in message.timeline] == ["queued", "sending", "sent", "delivered"]
    assert message.error_code is None


def test_each_step_is_posted_to_the_status_callback_with_a_valid_signature(
    api: httpx.Client, receiver: CallbackReceiver
) -> None:
    sid = send(api, StatusCallback=receiver.url).json()["sid"]

    callbacks = receiver.wait_for(4)

    assert [dict(c.params)["MessageStatus"] for c in callbacks] == [
        "queued",
        "sending",
        "sent",
        "delivered",
    ]
    for callback in callbacks:
        params = dict(callback.params)
        assert params["MessageSid"] == params["SmsSid"] == sid
        assert params["SmsStatus"] == params["MessageStatus"]
        assert params["AccountSid"].startswith("AC")
        assert is_valid_signature(
            DEFAULT_AUTH_TOKEN,
            callback.url,
            callback.headers["x-twilio-signature"],
            callback.params,
        )
        assert callback.headers["i-twilio-idempotency-token"]


def test_a_callback_signed_with_another_token_would_not_validate(
    api: httpx.Client, receiver: CallbackReceiver
) -> None:
    send(api, StatusCallback=receiver.url)

    callback = receiver.wait_for(1)[0]

    assert not is_valid_signature(
        "another-token", callback.url, callback.headers["x-twilio-signature"], callback.params
    )


def test_the_callback_outcome_is_kept_in_the_timeline(
    api: httpx.Client, sandbox: SandboxServer, receiver: CallbackReceiver
) -> None:
    sid = send(api, StatusCallback=receiver.url).json()["sid"]
    receiver.wait_for(4)

    message = sandbox.wait_for_status(sid, "delivered")

    assert sandbox.message(sid) is not None
    assert [step.callback for step in message.timeline][:3] == ["204", "204", "204"]


def test_an_unreachable_callback_url_does_not_stop_the_journey(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sid = send(api, StatusCallback="http://127.0.0.1:9/unreachable").json()["sid"]

    message = sandbox.wait_for_status(sid, "delivered")

    assert message.timeline[0].callback is not None
    assert message.timeline[0].callback.startswith("error")


def test_undelivered_recipients_end_undelivered_with_an_error_code(
    api: httpx.Client, sandbox: SandboxServer, receiver: CallbackReceiver
) -> None:
    sid = send(api, To="+15005550010", StatusCallback=receiver.url).json()["sid"]

    message = sandbox.wait_for_status(sid, "undelivered")
    last = dict(receiver.wait_for(4)[-1].params)

    assert [step.status for step in message.timeline][-2:] == ["sent", "undelivered"]
    assert message.error_code == 30003
    assert (last["MessageStatus"], last["ErrorCode"]) == ("undelivered", "30003")


def test_failed_recipients_end_failed(api: httpx.Client, sandbox: SandboxServer) -> None:
    sid = send(api, To="+15005550011").json()["sid"]

    message = sandbox.wait_for_status(sid, "failed")

    assert [step.status for step in message.timeline] == ["queued", "sending", "failed"]
    assert message.date_sent is None
    assert message.error_code == 30008


def test_the_unlucky_recipients_are_configurable() -> None:
    with (
        SandboxServer(step_delay=0.01, undelivered=("+15551230000",), failed=()) as sandbox,
        httpx.Client(
            base_url=sandbox.url,
            auth=("SK22222222222222222222222222222222", "sandbox-api-key-secret"),
        ) as api,
    ):
        unlucky = send(api, To="+15551230000").json()["sid"]
        default_failed = send(api, To="+15005550011").json()["sid"]

        assert sandbox.wait_for_status(unlucky, ("undelivered",)).status == "undelivered"
        assert sandbox.wait_for_status(default_failed, "delivered").status == "delivered"


def test_a_messaging_service_message_is_queued_after_acceptance(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sid = send(api, From=None, MessagingServiceSid="MG" + "b" * 32).json()["sid"]

    message = sandbox.wait_for_status(sid, "delivered")

    assert [step.status for step in message.timeline][:2] == ["accepted", "queued"]
