"""The application test fake: notifications captured after rendering, assertions that explain."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pluggy
import pytest

import norq
from norq import intercept
from norq.testing import MockTransport, NotificationFake, fake_notifications
from tests.conftest import ACME_SECRET
from tests.docs.envs import ROOT
from tests.docs.markdown import read_page

ADA = norq.Contact(email="ada@example.com", sms="+15550000001", data={"name": "Ada"})


def shop_config(**extra: Any) -> dict[str, Any]:
    """Two Acme instances, the second a failover for both channels, and a shop's templates."""
    acme = {"type": "acme", "config": {"api_key": ACME_SECRET}}
    document: dict[str, Any] = {
        "providers": {"acme": acme, "backup": acme},
        "routing": {"sms": ["acme", "backup"], "email": ["acme", "backup"]},
        "templates": {
            "order_shipped": {
                "email": {
                    "subject": "Order {{ order }} shipped",
                    "body": "Hi {{ name }}, order {{ order }} is on its way.",
                },
                "sms": {"body": "Order {{ order }} shipped"},
            },
            "otp": {"sms": {"body": "Your code is {{ code }}"}},
        },
        "notifications": {"order_shipped": {"channels": ["email", "sms"], "strategy": "all"}},
    }
    document.update(extra)
    return document


@pytest.fixture
def shop(plugin_manager: pluggy.PluginManager) -> norq.Norq:
    """A Norq whose transport fails the test if anything reaches it."""
    return norq.Norq.from_dict(
        shop_config(),
        plugin_manager=plugin_manager,
        environ={},
        transports={"http": MockTransport()},
    )


# -- capturing ------------------------------------------------------------------


def test_notify_is_taken_after_rendering_and_nothing_reaches_a_transport(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    receipt = shop.notify("sms", "+15550000001", template="otp", data={"code": "4821"})

    assert receipt.ok
    assert receipt.provider == "acme"
    assert receipt.message_id is not None
    assert receipt.message_id.startswith("fake-")
    [sent] = norq_fake.notifications
    assert (sent.channel, sent.to, sent.template, sent.body) == (
        "sms",
        "+15550000001",
        "otp",
        "Your code is 4821",
    )
    assert sent.data == {"code": "4821"}
    assert sent.providers == ("acme",)


def test_a_multi_channel_notification_is_one_capture_per_channel(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    shop.notify(notification="order_shipped", to=ADA, data={"order": 42})

    email = norq_fake.assert_sent(to=ADA, channel="email", template="order_shipped")
    assert email.subject == "Order 42 shipped"
    assert email.body == "Hi Ada, order 42 is on its way."
    norq_fake.assert_sent(to=ADA, channel="sms", body="Order 42 shipped")
    norq_fake.assert_count(2)


def test_bad_input_still_raises_before_the_fake_takes_anything(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    with pytest.raises(norq.TemplateError):
        shop.notify("sms", "+15550000001", template="otp", data={})

    norq_fake.assert_nothing_sent()


async def test_async_sends_are_taken_too(shop: norq.Norq, norq_fake: NotificationFake) -> None:
    await shop.anotify("sms", "+15550000001", body="async hello")
    receipts = [
        r async for r in shop.anotify_many("sms", ["+15550000002", "+15550000003"], body="many")
    ]

    assert all(r.ok for r in receipts)
    norq_fake.assert_sent(to="+15550000001", body="async hello", bulk=False)
    norq_fake.assert_count(2, body="many", bulk=True)


def test_a_bulk_send_is_marked_as_such(shop: norq.Norq, norq_fake: NotificationFake) -> None:
    list(
        shop.notify_many("sms", ["+15550000002", "+15550000003"], template="otp", data={"code": 1})
    )

    sent = norq_fake.assert_sent(to="+15550000003", bulk=True)
    assert sent.index == 1
    norq_fake.assert_not_sent(bulk=False)


def test_a_bulk_send_with_a_ledger_resumes_only_what_failed(
    shop: norq.Norq, norq_fake: NotificationFake, tmp_path: Path
) -> None:
    numbers = ["+15550000001", "+15550000002", "+15550000003"]
    norq_fake.fail("provider_unavailable", to="+15550000003", times=2)  # both providers
    ledger = norq.SqliteLedger(tmp_path / "run.db")

    first = shop.notify_many("sms", numbers, body="sale", ledger=ledger)
    assert [r.ok for r in first] == [True, True, False]
    resumed = shop.notify_many("sms", numbers, body="sale", ledger=ledger)
    assert [(r.index, r.ok) for r in resumed] == [(2, True)]

    norq_fake.assert_sent(to="+15550000001", times=1)
    norq_fake.assert_sent(to="+15550000003", provider="acme", times=1)
    norq_fake.assert_failed(to="+15550000003", code="provider_unavailable")


def test_a_multi_channel_notification_to_many_contacts_is_taken_per_contact_and_channel(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    grace = norq.Contact(email="grace@example.com", data={"name": "Grace"})

    receipts = list(
        shop.notify_many(notification="order_shipped", recipients=[ADA, grace], data={"order": 7})
    )

    assert [(r.index, r.channel) for r in receipts] == [(0, "email"), (0, "sms"), (1, "email")]
    norq_fake.assert_sent(to=grace, channel="email", subject="Order 7 shipped", bulk=True)
    norq_fake.assert_sent(to=ADA, channel="sms", body="Order 7 shipped", bulk=True)
    norq_fake.assert_count(3)


async def test_an_async_multi_channel_notification_to_many_contacts_is_taken_too(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    contacts = [ADA, norq.Contact(sms="+15550000009", data={"name": "Lin"})]
    norq_fake.fail("rejected", channel="email", disposition="final")

    receipts = [
        r
        async for r in shop.anotify_many(
            notification="order_shipped", recipients=contacts, data={"order": 8}
        )
    ]

    assert sorted((r.index, r.channel, r.ok) for r in receipts) == [
        (0, "email", False),
        (0, "sms", True),
        (1, "sms", True),
    ]
    norq_fake.assert_failed(to=ADA, channel="email", code="rejected")
    norq_fake.assert_count(2, channel="sms", bulk=True)


def test_an_enqueued_job_runs_at_once_without_a_broker(
    plugin_manager: pluggy.PluginManager, norq_fake: NotificationFake
) -> None:
    # Nothing listens on this port: the fake takes the job before Redis is needed.
    config = shop_config(celery={"broker_url": "redis://127.0.0.1:9/0"})
    with norq.Norq.from_dict(config, plugin_manager=plugin_manager, environ={}) as app:
        job_id = app.enqueue_many("sms", ["+15550000002", "not a number"], body="queued")

        norq_fake.assert_sent(to="+15550000002", job=job_id, bulk=True)
        status = app.job(job_id)
        assert (status.total, status.done, status.ok) == (2, 2, 1)
        assert status.errors == {"invalid_recipient": 1}
        assert [r.ok for r in app.job_receipts(job_id)] == [True, False]


def test_enqueue_still_needs_the_celery_section(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    with pytest.raises(norq.MessageError, match="celery: section"):
        shop.enqueue("sms", "+15550000001", body="queued")


def test_hooks_see_the_receipts_the_fake_gave(
    plugin_manager: pluggy.PluginManager, norq_fake: NotificationFake
) -> None:
    seen: list[norq.Receipt] = []

    class Audit:
        @norq.hookimpl
        def after_send(self, receipt: norq.Receipt) -> None:
            seen.append(receipt)

    plugin_manager.register(Audit())
    app = norq.Norq.from_dict(shop_config(), plugin_manager=plugin_manager, environ={})
    receipt = app.notify("sms", "+15550000001", body="audited")

    assert seen == [receipt]


# -- scripted failures ----------------------------------------------------------


def test_a_provider_failure_fails_over_as_the_route_says(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    norq_fake.fail("provider_unavailable", provider="acme")

    receipt = shop.notify("sms", "+15550000001", body="hello")

    assert receipt.ok
    assert receipt.provider == "backup"
    assert receipt.attempts == 2
    sent = norq_fake.assert_sent(to="+15550000001", provider="backup")
    assert sent.providers == ("acme", "backup")


def test_a_final_failure_does_not_fail_over(shop: norq.Norq, norq_fake: NotificationFake) -> None:
    norq_fake.fail("recipient_opted_out", to="+15550000001")

    with pytest.raises(norq.DeliveryError) as failed:
        shop.notify("sms", "+15550000001", body="hello")

    receipt = failed.value.receipt
    assert receipt.error is not None
    assert (receipt.error.code, receipt.error.disposition) == ("recipient_opted_out", "final")
    norq_fake.assert_failed(to="+15550000001", code="recipient_opted_out")
    norq_fake.assert_nothing_sent()


def test_a_timeout_leaves_the_receipt_unconfirmed(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    norq_fake.fail("timeout", channel="sms")

    with pytest.raises(norq.DeliveryError) as failed:
        shop.notify("sms", "+15550000001", body="hello")

    assert failed.value.receipt.unconfirmed
    assert failed.value.receipt.provider == "acme"


def test_a_disposition_given_overrides_the_codes_own(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    norq_fake.fail("rejected", provider="acme", disposition="failover")

    assert shop.notify("sms", "+15550000001", body="hello").provider == "backup"


def test_a_failure_for_a_number_of_times_then_sends(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    norq_fake.fail("rate_limited", channel="email", times=2)

    with pytest.raises(norq.DeliveryError) as first:
        shop.notify("email", "ada@example.com", body="one", subject="s")
    second = shop.notify("email", "ada@example.com", body="two", subject="s")

    assert first.value.receipt.attempts == 2  # acme, then backup: both rate limited
    assert second.ok
    assert second.provider == "acme"


def test_a_failure_for_one_channel_leaves_the_others(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    norq_fake.fail("invalid_recipient", channel="sms")

    receipts = shop.notify(notification="order_shipped", to=ADA, data={"order": 7})

    assert [(r.channel, r.ok) for r in receipts] == [("email", True), ("sms", False)]


def test_scripting_rejects_an_unknown_disposition_and_a_zero_count() -> None:
    fake = NotificationFake()
    with pytest.raises(ValueError, match="maybe"):
        fake.fail("rejected", disposition="maybe")
    with pytest.raises(ValueError, match="at least 1"):
        fake.fail("rejected", times=0)


# -- assertion messages ---------------------------------------------------------


def test_assert_sent_failing_shows_what_was_sent_and_why_it_did_not_match(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    shop.notify(notification="order_shipped", to=ADA, data={"order": 41})

    with pytest.raises(AssertionError) as failure:
        norq_fake.assert_sent(to="ada@example.com", channel="email", data={"order": 42})

    assert str(failure.value) == (
        "expected a notification to ada@example.com on email with data {'order': 42} "
        "to be sent; none did.\n"
        "2 notifications taken:\n"
        "  1. email to ada@example.com via acme, template 'order_shipped', "
        "data {'order': 41, 'name': 'Ada'}, subject 'Order 41 shipped', "
        "body 'Hi Ada, order 41 is on its way.'\n"
        "       data['order'] is 41, not 42\n"
        "  2. sms to +15550000001 via acme, template 'order_shipped', "
        "data {'order': 41, 'name': 'Ada'}, body 'Order 41 shipped'"
    )


def test_assert_sent_failing_with_nothing_sent_says_so(norq_fake: NotificationFake) -> None:
    with pytest.raises(AssertionError, match=r"none did\.\nNothing was sent\.$"):
        norq_fake.assert_sent(to="+15550000001")


def test_assert_sent_with_times_counts_the_matches(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    for _ in range(2):
        shop.notify("sms", "+15550000001", body="twice")

    norq_fake.assert_sent(to="+15550000001", times=2)
    with pytest.raises(AssertionError, match="expected 3 notifications to \\+15550000001 "):
        norq_fake.assert_sent(to="+15550000001", times=3)


def test_subject_and_body_match_exactly_or_by_pattern(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    shop.notify(
        "email", "ada@example.com", template="order_shipped", data={"order": 9, "name": "A"}
    )

    norq_fake.assert_sent(subject="Order 9 shipped", body=re.compile(r"order \d+ is on"))
    with pytest.raises(AssertionError, match=r"subject is 'Order 9 shipped', not 'Order 9'"):
        norq_fake.assert_sent(subject="Order 9")
    with pytest.raises(AssertionError, match=r"not matching /refund/"):
        norq_fake.assert_sent(body=re.compile("refund"))


def test_assert_sent_counts_only_delivered_notifications(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    norq_fake.fail("invalid_recipient")
    with pytest.raises(norq.DeliveryError):
        shop.notify("sms", "+15550000001", body="hello")

    with pytest.raises(AssertionError, match="FAILED invalid_recipient"):
        norq_fake.assert_sent(to="+15550000001")


def test_assert_failed_failing_lists_what_was_taken(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    shop.notify("sms", "+15550000001", body="hello")

    with pytest.raises(AssertionError) as failure:
        norq_fake.assert_failed(to="+15550000001", code="timeout")

    assert str(failure.value) == (
        "expected a notification to +15550000001 with code 'timeout' to fail; none did.\n"
        "1 notification taken:\n"
        "  1. sms to +15550000001 via acme, body 'hello'\n"
        "       code is None, not 'timeout'"
    )


def test_assert_count_failing_lists_what_was_sent(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    shop.notify("sms", "+15550000001", body="one")

    norq_fake.assert_count(1)
    norq_fake.assert_count(0, channel="email")
    with pytest.raises(AssertionError) as failure:
        norq_fake.assert_count(2, channel="sms")

    assert str(failure.value) == (
        "expected 2 notifications on sms to be sent; 1 was.\n"
        "1 notification taken:\n"
        "  1. sms to +15550000001 via acme, body 'one'"
    )


def test_assert_nothing_sent_failing_lists_what_was_sent(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    norq_fake.assert_nothing_sent()
    list(shop.notify_many("sms", ["+15550000002"], body="bulk"))

    with pytest.raises(AssertionError) as failure:
        norq_fake.assert_nothing_sent()

    assert str(failure.value) == (
        "expected nothing to be sent; 1 notification was.\n"
        "1 notification taken:\n"
        "  1. sms to +15550000002 via acme, body 'bulk', bulk #0"
    )


def test_assert_not_sent_failing_lists_what_was_sent(
    shop: norq.Norq, norq_fake: NotificationFake
) -> None:
    shop.notify("sms", "+15550000001", body="hello")

    norq_fake.assert_not_sent(channel="email")
    with pytest.raises(AssertionError, match=r"expected no notification on sms to be sent; 1 was"):
        norq_fake.assert_not_sent(channel="sms")


def test_the_failure_message_shown_in_testing_md_is_the_real_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The docs runner runs the page's examples but shows its `text` blocks as written.
    page = read_page(ROOT / "docs" / "testing.md")
    [config] = [block.text for block in page.blocks if block.file == "norq.yaml"]
    [shown] = [block.text for block in page.blocks if block.language == "text"]
    (tmp_path / "norq.yaml").write_text(config, "utf-8")
    for variable in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SENDGRID_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    ada = norq.Contact(email="ada@example.com", sms="+15557654321", data={"name": "Ada"})

    app = norq.Norq.from_yaml(tmp_path / "norq.yaml")
    with fake_notifications() as fake:
        app.notify(notification="order_shipped", to=ada, data={"order": 1042})
        with pytest.raises(AssertionError) as failure:
            fake.assert_sent(to="ada@example.com", channel="email", data={"order": 1043})

    assert f"AssertionError: {failure.value}\n" == shown


def test_an_unknown_criterion_is_a_type_error(norq_fake: NotificationFake) -> None:
    with pytest.raises(TypeError, match="unknown criteria recipient"):
        norq_fake.assert_count(0, recipient="+15550000001")


# -- installing -----------------------------------------------------------------


def test_the_fake_is_removed_when_the_block_ends() -> None:
    with fake_notifications() as outer:
        with fake_notifications() as inner:
            assert intercept.current is inner
        assert intercept.current is outer
    assert intercept.current is None


def test_the_fixture_leaves_no_fake_behind() -> None:
    # Runs after the tests above used norq_fake: sending is real again.
    assert intercept.current is None
