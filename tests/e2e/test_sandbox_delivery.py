"""Norq against the sandbox over real loopback HTTP: sends, retries, faults, failover.

Attempts are counted from the sandbox's own request log, so every test also
proves what reached the server: nothing sent twice, nothing silently lost.
"""

from __future__ import annotations

import time

import pytest
from norq_sandbox import DEFAULT_ACCOUNT_SID, DEFAULT_API_KEY_SID, SandboxServer

from norq import DeliveryError, ErrorCode, Norq, Receipt
from tests.e2e.conftest import RECIPIENT, MakeNorq, auth_token_provider, twilio_provider

pytestmark = pytest.mark.e2e


def test_notify_sends_one_request_and_the_sandbox_holds_the_message(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq(
        {"twilio": twilio_provider(sandbox.url)},
        templates={"otp": {"sms": {"body": "Your {{ app }} code is {{ code }}."}}},
    )

    receipt = app.notify("sms", RECIPIENT, template="otp", data={"app": "Acme", "code": "4821"})

    (message,) = sandbox.messages()
    (request,) = sandbox.sends()
    assert receipt.ok
    assert (receipt.provider, receipt.status_code, receipt.attempts) == ("twilio", 201, 1)
    assert receipt.message_id == message.sid == request.message_sid
    assert message.draft.body == "Your Acme code is 4821."
    assert message.draft.to == RECIPIENT
    assert request.username == DEFAULT_API_KEY_SID


def test_auth_token_credentials_work_too(sandbox: SandboxServer, make_norq: MakeNorq) -> None:
    app = make_norq({"twilio": auth_token_provider(sandbox.url)})

    receipt = app.notify("sms", RECIPIENT, body="hello")

    assert receipt.ok
    assert sandbox.sends()[0].username == DEFAULT_ACCOUNT_SID


def test_wrong_credentials_fail_at_once_without_retry(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url, api_key_secret="not-the-secret")})

    with pytest.raises(DeliveryError) as caught:
        app.notify("sms", RECIPIENT, body="hello")

    receipt = caught.value.receipt
    assert receipt.attempts == 1
    assert receipt.error is not None
    assert (receipt.error.code, receipt.error.provider_code) == (
        ErrorCode.INVALID_CREDENTIALS,
        "20003",
    )
    assert len(sandbox.sends()) == 1


def test_a_permanent_error_is_not_retried(sandbox: SandboxServer, make_norq: MakeNorq) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})

    with pytest.raises(DeliveryError) as caught:
        app.notify("sms", "+15005550001", body="hello")

    error = caught.value.receipt.error
    assert error is not None
    assert (error.code, error.provider_code) == (ErrorCode.INVALID_RECIPIENT, "21211")
    assert [r.status for r in sandbox.sends()] == [400]


# -- retries under injected faults --------------------------------------------------------


@pytest.mark.parametrize("fault", ["429", "500", "502", "503"])
def test_transient_errors_are_retried_until_success(
    sandbox: SandboxServer, make_norq: MakeNorq, fault: str
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})
    sandbox.faults.add(fault, count=2)

    receipt = app.notify("sms", RECIPIENT, body="hello")

    sends = sandbox.sends()
    assert receipt.ok
    assert receipt.attempts == 3
    assert [r.status for r in sends] == [int(fault), int(fault), 201]
    assert len(sandbox.messages()) == 1
    assert receipt.message_id == sends[-1].message_sid


def test_retries_stop_after_max_retries(sandbox: SandboxServer, make_norq: MakeNorq) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})
    sandbox.faults.add("503", count=5)

    with pytest.raises(DeliveryError) as caught:
        app.notify("sms", RECIPIENT, body="hello")

    receipt = caught.value.receipt
    assert receipt.attempts == 3  # the first try and max_retries=2 retries
    assert receipt.error is not None
    assert receipt.error.code == ErrorCode.PROVIDER_UNAVAILABLE
    assert [r.status for r in sandbox.sends()] == [503, 503, 503]
    assert sandbox.messages() == []


def test_retry_after_is_honoured(sandbox: SandboxServer, make_norq: MakeNorq) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})
    sandbox.faults.add("429:0.6")

    started = time.monotonic()
    receipt = app.notify("sms", RECIPIENT, body="hello")
    elapsed = time.monotonic() - started

    assert receipt.ok
    assert receipt.attempts == 2
    assert 0.6 <= elapsed < 5  # the backoff alone would be 0.01 s
    first, second = sandbox.sends()
    assert (second.at - first.at).total_seconds() >= 0.6


def test_a_dropped_connection_is_reported_not_retried(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})
    sandbox.faults.add("drop")

    with pytest.raises(DeliveryError) as caught:
        app.notify("sms", RECIPIENT, body="hello")

    receipt = caught.value.receipt
    assert receipt.attempts == 1
    assert receipt.error is not None
    assert receipt.error.code == ErrorCode.CONNECTION_LOST
    (request,) = sandbox.sends()
    assert request.dropped
    assert sandbox.messages() == []


def test_a_dropped_connection_is_retried_when_unconfirmed_retries_are_allowed(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url, retry={"retry_unconfirmed": True})})
    sandbox.faults.add("drop")

    receipt = app.notify("sms", RECIPIENT, body="hello")

    assert receipt.ok
    assert receipt.attempts == 2
    assert [(r.dropped, r.status) for r in sandbox.sends()] == [(True, None), (False, 201)]
    assert len(sandbox.messages()) == 1


def test_a_timeout_is_not_retried_because_the_message_may_have_been_accepted(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)}, executor={"timeout": 0.3})
    sandbox.faults.add("delay:0.8")

    with pytest.raises(DeliveryError) as caught:
        app.notify("sms", RECIPIENT, body="hello")

    receipt = caught.value.receipt
    assert receipt.attempts == 1
    assert receipt.error is not None
    assert receipt.error.code == ErrorCode.TIMEOUT
    # The sandbox did accept it once the delay was over: exactly one message, never two.
    deadline = time.monotonic() + 5
    while not sandbox.messages() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(sandbox.messages()) == 1
    assert len(sandbox.sends()) == 1


def test_connect_errors_are_retried(make_norq: MakeNorq) -> None:
    with SandboxServer() as gone:
        closed_url = gone.url
    app = make_norq({"twilio": twilio_provider(closed_url)})

    with pytest.raises(DeliveryError) as caught:
        app.notify("sms", RECIPIENT, body="hello")

    receipt = caught.value.receipt
    assert receipt.attempts == 3
    assert receipt.error is not None
    assert receipt.error.code == ErrorCode.CONNECT_ERROR


# -- failover between two sandbox instances -----------------------------------------------


def failover_norq(make_norq: MakeNorq, primary: SandboxServer, backup: SandboxServer) -> Norq:
    return make_norq(
        {"twilio": twilio_provider(primary.url), "twilio_backup": twilio_provider(backup.url)},
        routing=["twilio", "twilio_backup"],
    )


def test_a_failing_instance_fails_over_to_a_healthy_one(
    sandbox: SandboxServer, backup_sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = failover_norq(make_norq, sandbox, backup_sandbox)
    sandbox.faults.set_rate(1.0, ["503"])

    receipt = app.notify("sms", RECIPIENT, body="hello")

    assert receipt.ok
    assert receipt.provider == "twilio_backup"
    assert receipt.attempts == 4  # three on the primary, one on the backup
    assert [r.status for r in sandbox.sends()] == [503, 503, 503]
    assert sandbox.messages() == []
    (message,) = backup_sandbox.messages()
    assert receipt.message_id == message.sid


def test_a_permanent_error_does_not_fail_over(
    sandbox: SandboxServer, backup_sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = failover_norq(make_norq, sandbox, backup_sandbox)

    with pytest.raises(DeliveryError) as caught:
        app.notify("sms", "+15005550004", body="hello")

    assert caught.value.receipt.provider == "twilio"
    assert backup_sandbox.sends() == []


def test_a_dropped_connection_does_not_fail_over_so_nothing_is_sent_twice(
    sandbox: SandboxServer, backup_sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = failover_norq(make_norq, sandbox, backup_sandbox)
    sandbox.faults.add("drop")

    with pytest.raises(DeliveryError):
        app.notify("sms", RECIPIENT, body="hello")

    assert len(sandbox.sends()) == 1
    assert backup_sandbox.sends() == []


# -- bulk under random faults -------------------------------------------------------------

SOAK_RECIPIENTS = [f"+1555010{n:04d}" for n in range(60)]
# At a 30% fault rate, nine faults in a row for one of 60 recipients has odds of
# about 1 in 800; the seeded draws make the sync run exactly repeatable.
SOAK_RETRY = {"max_retries": 8, "max_backoff": 0.05}


def assert_each_sent_exactly_once(sandbox: SandboxServer, receipts: list[Receipt]) -> None:
    messages = sandbox.messages()
    assert all(receipt.ok for receipt in receipts)
    assert sorted(m.draft.to for m in messages) == sorted(SOAK_RECIPIENTS)
    assert {r.message_id for r in receipts} == {m.sid for m in messages}
    # Every attempt a receipt counts is a request the sandbox saw, and vice versa.
    assert sum(r.attempts for r in receipts) == len(sandbox.sends())


def test_bulk_sends_under_random_faults_deliver_each_message_exactly_once(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url, retry=SOAK_RETRY)})
    sandbox.faults.set_rate(0.3, ["429", "500", "503"], seed=11)

    receipts = list(app.notify_many("sms", SOAK_RECIPIENTS, body="soak"))

    assert_each_sent_exactly_once(sandbox, receipts)
    assert sandbox.faults.snapshot()["injected"] > 5


async def test_async_bulk_sends_under_random_faults_deliver_each_message_exactly_once(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url, retry=SOAK_RETRY)})
    sandbox.faults.set_rate(0.3, ["429", "503"], seed=5)

    receipts = [
        r async for r in app.anotify_many("sms", SOAK_RECIPIENTS, body="soak", concurrency=8)
    ]
    await app.aclose()

    assert_each_sent_exactly_once(sandbox, receipts)
