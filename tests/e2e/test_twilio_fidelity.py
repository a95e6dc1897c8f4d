"""Norq's Twilio provider against the sandbox, on the behaviours where the sandbox now matches
Twilio's docs: short-code and alphanumeric senders, scheduling, MMS sids, service senders."""

from __future__ import annotations

import datetime as dt

import pytest
from norq_sandbox import SandboxServer

from norq import DeliveryError
from tests.e2e.conftest import RECIPIENT, VALID_FROM, MakeNorq, twilio_provider

pytestmark = pytest.mark.e2e

SERVICE = "MG" + "c" * 32


def service_provider(base_url: str) -> dict[str, object]:
    entry = twilio_provider(base_url)
    config = entry["config"]
    del config["from"]
    config["messaging_service_sid"] = SERVICE
    return entry


@pytest.mark.parametrize("sender", ["12345", "Norq"])
def test_norq_sends_from_a_short_code_or_an_alphanumeric_sender(
    sandbox: SandboxServer, make_norq: MakeNorq, sender: str
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url, **{"from": sender})})

    receipt = app.notify("sms", RECIPIENT, body="hello")

    assert receipt.ok, receipt.error
    assert receipt.message_id is not None
    assert sandbox.wait_for_status(receipt.message_id, "delivered").sender == sender


def test_norq_schedules_a_message_that_is_released_at_send_at(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq({"twilio": service_provider(sandbox.url)})
    send_at = sandbox.clock.now() + dt.timedelta(minutes=30)

    receipt = app.notify("sms", RECIPIENT, body="later", send_at=send_at)

    assert receipt.ok, receipt.error
    assert receipt.message_id is not None
    assert app.status(receipt.message_id).status == "scheduled"
    sandbox.clock.advance(30 * 60)
    sandbox.wait_for_status(receipt.message_id, "delivered")
    status = app.status(receipt.message_id)
    assert (status.status, status.sender) == ("delivered", VALID_FROM)


def test_a_send_at_too_soon_fails_as_invalid_message(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq({"twilio": service_provider(sandbox.url)})

    with pytest.raises(DeliveryError) as raised:
        app.notify(
            "sms", RECIPIENT, body="soon", send_at=sandbox.clock.now() + dt.timedelta(minutes=5)
        )

    receipt = raised.value.receipt
    assert receipt.error is not None
    assert (receipt.error.code, receipt.error.provider_code) == ("invalid_message", "35114")


def test_an_mms_gets_an_mm_sid_that_status_can_query(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})

    receipt = app.notify(
        "sms", RECIPIENT, body="label", media_urls=["https://cdn.example.com/label.png"]
    )

    assert receipt.message_id is not None
    assert receipt.message_id.startswith("MM")
    sandbox.wait_for_status(receipt.message_id, "delivered")
    assert app.status(receipt.message_id).status == "delivered"


@pytest.mark.parametrize("flag", [True, False])
def test_provide_feedback_reaches_twilio_as_sent(
    sandbox: SandboxServer, make_norq: MakeNorq, flag: bool
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})

    receipt = app.notify("sms", RECIPIENT, body="Your code is 428913", provide_feedback=flag)

    assert receipt.ok, receipt.error
    (request,) = sandbox.sends()
    assert request.params["ProvideFeedback"] == ["true" if flag else "false"]
    (message,) = sandbox.messages()
    assert message.draft.provide_feedback is flag
