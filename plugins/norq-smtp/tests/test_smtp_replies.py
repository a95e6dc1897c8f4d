"""Every SMTP reply code and its disposition, from a real server, sync and async."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from norq_smtp import classify
from smtp_testserver import StartServer, send

import norq

# (stage, the server's reply, normalised code, disposition)
REPLIES = [
    ("mail", "421 4.3.2 Service shutting down", "provider_unavailable", "retry"),
    ("mail", "451 4.3.0 Local error in processing", "provider_unavailable", "retry"),
    ("rcpt", "450 4.2.1 Mailbox busy", "provider_unavailable", "retry"),
    ("rcpt", "452 4.2.2 Insufficient storage", "provider_unavailable", "retry"),
    ("rcpt", "451 4.7.1 Greylisted, try again later", "rate_limited", "retry"),
    ("data", "451 4.3.0 Queue full", "provider_unavailable", "retry"),
    ("rcpt", "550 5.1.1 <ada@example.test>: user unknown", "invalid_recipient", "final"),
    ("rcpt", "551 User not local", "invalid_recipient", "final"),
    ("rcpt", "553 5.1.3 Bad destination mailbox address syntax", "invalid_recipient", "final"),
    ("rcpt", "552 5.2.2 Mailbox full", "recipient_unreachable", "final"),
    ("rcpt", "550 5.2.1 Mailbox disabled", "recipient_unreachable", "final"),
    ("rcpt", "554 5.7.1 Relay access denied", "rejected", "failover"),
    ("mail", "550 5.7.1 Sender not authorised for this account", "rejected", "failover"),
    ("mail", "553 5.1.8 Sender address rejected: domain not found", "invalid_sender", "failover"),
    ("mail", "530 5.7.0 Authentication required", "invalid_credentials", "failover"),
    ("mail", "501 5.5.4 Syntax error in parameters", "invalid_message", "final"),
    ("data", "554 5.7.1 Message rejected as spam", "rejected", "failover"),
    ("data", "554 Transaction failed", "rejected", "failover"),
    ("data", "552 5.3.4 Message size exceeds fixed limit", "message_too_long", "final"),
]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("stage", "reply", "code", "disposition"), REPLIES)
async def test_reply_codes_map_to_codes_and_dispositions(
    smtp_server: StartServer, mode: str, stage: str, reply: str, code: str, disposition: str
) -> None:
    server = smtp_server()
    # Every attempt gets the same answer, so a retry is seen to happen.
    server.recorder.replies[stage] = [reply] * 3
    app = server.norq(retry={"max_retries": 1})
    with pytest.raises(norq.DeliveryError) as caught:
        await send(app, mode)
    receipt = caught.value.receipt
    assert receipt.error is not None
    assert (receipt.error.code, receipt.error.disposition) == (code, disposition)
    assert receipt.error.provider_code == reply[:3]
    assert reply[4:] in receipt.error.message
    assert receipt.attempts == (2 if disposition == "retry" else 1)
    assert server.recorder.messages == []


def test_a_transient_failure_then_success_is_delivered(smtp_server: StartServer) -> None:
    server = smtp_server()
    server.recorder.replies["rcpt"] = ["450 4.2.1 Mailbox busy"]
    with server.norq() as app:
        receipt = app.notify("email", "ada@example.test", body="hi", subject="s")
    assert receipt.ok
    assert receipt.attempts == 2
    assert len(server.recorder.messages) == 1


def test_the_message_names_the_refused_recipient(smtp_server: StartServer) -> None:
    server = smtp_server()
    server.recorder.replies["rcpt"] = ["250 OK", "550 5.1.1 user unknown"]
    app = server.norq()
    with app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("email", "ada@example.test", body="hi", subject="s", cc="bob@example.test")
    error = caught.value.receipt.error
    assert error is not None
    assert "RCPT TO:<bob@example.test>" in error.message


def test_auth_failures_fail_over() -> None:
    for code in (530, 534, 535, 538):
        assert classify(code, "auth", "5.7.8 Authentication credentials invalid") == (
            norq.ErrorCode.INVALID_CREDENTIALS,
            norq.Disposition.FAILOVER,
        )


def test_a_refused_greeting_fails_over() -> None:
    assert classify(554, "connect", "No SMTP service here") == (
        norq.ErrorCode.REJECTED,
        norq.Disposition.FAILOVER,
    )


@given(
    code=st.integers(400, 499),
    stage=st.sampled_from(["connect", "auth", "mail", "rcpt", "data"]),
    text=st.text(max_size=40),
)
def test_every_4xx_reply_is_retried(code: int, stage: str, text: str) -> None:
    assert classify(code, stage, text)[1] is norq.Disposition.RETRY


@given(
    code=st.integers(500, 599),
    stage=st.sampled_from(["connect", "auth", "mail", "rcpt", "data"]),
    text=st.text(max_size=40),
)
def test_no_5xx_reply_is_retried_here(code: int, stage: str, text: str) -> None:
    assert classify(code, stage, text)[1] in {norq.Disposition.FAILOVER, norq.Disposition.FINAL}


@given(
    code=st.sampled_from([550, 551, 553]),
    subject=st.integers(0, 7),
    detail=st.integers(0, 20),
    rest=st.text(max_size=30),
)
def test_a_refused_recipient_is_final_unless_the_refusal_is_a_policy(
    code: int, subject: int, detail: int, rest: str
) -> None:
    disposition = classify(code, "rcpt", f"5.{subject}.{detail} {rest}")[1]
    expected = norq.Disposition.FAILOVER if subject == 7 else norq.Disposition.FINAL
    assert disposition is expected
