"""Norq.status and Norq.messages read the sandbox's messages through the Twilio provider."""

from __future__ import annotations

import datetime as dt

import pytest
from norq_sandbox import SandboxServer

from norq import MessageQuery, QueryError
from tests.e2e.conftest import RECIPIENT, VALID_FROM, MakeNorq, twilio_provider

pytestmark = pytest.mark.e2e


def test_status_fetches_the_current_status(sandbox: SandboxServer, make_norq: MakeNorq) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})
    receipt = app.notify("sms", RECIPIENT, body="x" * 200)
    assert receipt.message_id is not None
    sandbox.wait_for_status(receipt.message_id, "delivered")

    status = app.status(receipt.message_id)

    assert status.message_id == receipt.message_id
    assert (status.status, status.provider_status) == ("delivered", "delivered")
    assert (status.to, status.sender) == (RECIPIENT, VALID_FROM)
    assert status.segments == 2
    assert status.date_sent is not None


def test_status_reports_an_undelivered_message_with_its_error(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})
    receipt = app.notify("sms", "+15005550010", body="hello")
    assert receipt.message_id is not None
    sandbox.wait_for_status(receipt.message_id, "undelivered")

    status = app.status(receipt.message_id)

    assert status.status == "undelivered"
    assert status.error_code == "30003"


def test_status_of_an_unknown_message_raises(sandbox: SandboxServer, make_norq: MakeNorq) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})

    with pytest.raises(QueryError, match="not_found"):
        app.status("SM" + "0" * 32)


def test_messages_lists_newest_first_across_pages(
    sandbox: SandboxServer, make_norq: MakeNorq
) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})
    ids = [app.notify("sms", RECIPIENT, body=f"message {n}").message_id for n in range(5)]
    app.notify("sms", "+15550001111", body="someone else")

    listed = list(app.messages(MessageQuery(to=RECIPIENT, page_size=2)))

    assert [m.message_id for m in listed] == ids[::-1]
    assert [m.body for m in listed] == [f"message {n}" for n in range(4, -1, -1)]
    pages = sandbox.requests("GET")
    assert len(pages) == 3
    assert all("PageSize=2" in page.query for page in pages)


def test_messages_filters_by_sent_date(sandbox: SandboxServer, make_norq: MakeNorq) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})
    receipt = app.notify("sms", RECIPIENT, body="hello")
    assert receipt.message_id is not None
    sent = sandbox.wait_for_status(receipt.message_id, "delivered").date_sent
    assert sent is not None
    today = sent.date()

    on_the_day = list(app.messages(MessageQuery(sent_on=today)))
    long_ago = list(app.messages(MessageQuery(sent_before=today - dt.timedelta(days=30))))

    assert [m.message_id for m in on_the_day] == [receipt.message_id]
    assert long_ago == []


def test_messages_honours_a_limit(sandbox: SandboxServer, make_norq: MakeNorq) -> None:
    app = make_norq({"twilio": twilio_provider(sandbox.url)})
    for n in range(4):
        app.notify("sms", RECIPIENT, body=f"message {n}")

    assert len(list(app.messages(limit=3))) == 3
