"""The delivery flow (pure), the Notification value, the bulk ledger, and item-6 fixes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pluggy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import norq
from norq.delivery import Attempt, Delivery
from norq.formats import is_e164
from norq.receipt import Outcome
from norq.router import Composed, Leg, Skip
from norq.testing import MockTransport, json_response
from tests.seam.conftest import CHIRP_SECRET, chirp, config, parcel
from tests.seam.test_public_providers import chirp_ok, chirp_status

ANN = "+15551230001"


def failure(disposition: str, attempts: int = 1) -> Outcome:
    error = norq.DeliveryFailure("rejected", "no", disposition=disposition)
    return Outcome(False, 400, None, attempts, error)


def chain_of(pm: pluggy.PluginManager, *names: str) -> tuple[norq.Provider, ...]:
    app = norq.Norq.from_dict(
        config(**{name: chirp(f"https://{name}.test") for name in names}),
        plugin_manager=pm,
        environ={},
    )
    return tuple(app.providers[name] for name in names)


def composed(chain: tuple[norq.Provider, ...], *skipped: str) -> Composed:
    """``hi`` to ANN for each provider of ``chain``; those named in ``skipped`` cannot take it."""
    message = norq.Message("sms", ANN, "hi")
    return Composed(
        "sms",
        ANN,
        tuple(
            Skip(provider, norq.MessageError(f"{provider.instance} refuses"))
            if provider.instance in skipped
            else Leg(provider, message)
            for provider in chain
        ),
    )


@pytest.mark.parametrize(
    ("disposition", "fails_over"), [("retry", True), ("failover", True), ("final", False)]
)
def test_delivery_fails_over_on_the_disposition(
    pm: pluggy.PluginManager, disposition: str, fails_over: bool
) -> None:
    delivery = Delivery(composed(chain_of(pm, "a", "b")), index=4)
    first = delivery.first()
    assert first.provider.instance == "a"
    step = delivery.record(failure(disposition, attempts=3))
    if fails_over:
        assert isinstance(step, Attempt)
        assert step.provider.instance == "b"
        step = delivery.record(Outcome(True, 200, "m", 1))
        assert isinstance(step, norq.Receipt)
        assert (step.ok, step.provider, step.attempts, step.index) == (True, "b", 4, 4)
    else:
        assert isinstance(step, norq.Receipt)
        assert (step.ok, step.provider, step.attempts) == (False, "a", 3)


def test_the_last_provider_ends_the_delivery_whatever_the_disposition(
    pm: pluggy.PluginManager,
) -> None:
    delivery = Delivery(composed(chain_of(pm, "a")))
    delivery.first()
    step = delivery.record(failure("retry"))
    assert isinstance(step, norq.Receipt)
    assert not step.ok


def test_a_provider_that_cannot_take_the_message_is_passed_over_and_named(
    pm: pluggy.PluginManager,
) -> None:
    delivery = Delivery(composed(chain_of(pm, "a", "b", "c"), "b"))
    assert delivery.first().provider.instance == "a"
    step = delivery.record(failure("failover"))
    assert isinstance(step, Attempt)
    assert step.provider.instance == "c"
    receipt = delivery.record(Outcome(True, 200, "m", 1))
    assert isinstance(receipt, norq.Receipt)
    assert (receipt.ok, receipt.provider) == (True, "c")
    assert receipt.skipped == (norq.Skipped("b", "b refuses"),)


def test_a_primary_that_cannot_take_the_message_is_passed_over(
    pm: pluggy.PluginManager,
) -> None:
    delivery = Delivery(composed(chain_of(pm, "a", "b"), "a"))
    assert delivery.first().provider.instance == "b"
    receipt = delivery.record(Outcome(True, 200, "m", 1))
    assert isinstance(receipt, norq.Receipt)
    assert (receipt.provider, receipt.skipped) == ("b", (norq.Skipped("a", "a refuses"),))


def test_skipped_providers_are_named_when_nothing_is_left_to_fail_over_to(
    pm: pluggy.PluginManager,
) -> None:
    delivery = Delivery(composed(chain_of(pm, "a", "b"), "b"))
    delivery.first()
    receipt = delivery.record(failure("retry"))
    assert isinstance(receipt, norq.Receipt)
    assert (receipt.ok, receipt.provider) == (False, "a")
    assert receipt.skipped == (norq.Skipped("b", "b refuses"),)


def test_nothing_is_skipped_while_the_primary_delivers(pm: pluggy.PluginManager) -> None:
    delivery = Delivery(composed(chain_of(pm, "a", "b"), "b"))
    delivery.first()
    receipt = delivery.record(Outcome(True, 200, "m", 1))
    assert isinstance(receipt, norq.Receipt)
    assert receipt.skipped == ()


# -- Notification ------------------------------------------------------------------


def test_a_notification_checks_its_shape_once_at_the_edge() -> None:
    with pytest.raises(norq.MessageError, match="either body= or template="):
        norq.Notification("sms", ANN, body="x", template="t")
    with pytest.raises(norq.MessageError, match="no content"):
        norq.Notification("sms", ANN)
    with pytest.raises(norq.MessageError, match="leading or trailing whitespace"):
        norq.Notification("sms", " +15551234567", body="x")
    with pytest.raises(norq.MessageError, match="fields= must be a mapping"):
        norq.Notification("sms", ANN, body="x", fields=["a"])  # type: ignore[arg-type]


def test_options_alone_may_be_the_content_and_the_provider_decides(
    pm: pluggy.PluginManager,
) -> None:
    # A data-only push has no body: the notification takes it, its provider judges it.
    data_only = norq.Notification("push", "device-1", fields={"app_data": {"k": "v"}})
    assert data_only.body is None
    with pytest.raises(norq.MessageError, match="no content"):
        norq.Notification("sms", ANN, body="", fields={"x": 1})
    app = norq.Norq.from_dict(config(p=parcel()), plugin_manager=pm, environ={})
    with pytest.raises(norq.MessageError, match="has an empty body"):
        app.preview(norq.Notification("email", "ann@norq.test", fields={"subject": "hi"}))


def test_for_recipient_merges_data_and_fields() -> None:
    shared = norq.Notification("sms", None, template="t", data={"a": 1, "b": 1}, fields={"x": 1})
    one = shared.for_recipient(ANN, {"b": 2}, {"y": 2})
    assert (one.to, dict(one.data), dict(one.fields)) == (ANN, {"a": 1, "b": 2}, {"x": 1, "y": 2})


def test_norq_sends_a_notification_value(pm: pluggy.PluginManager) -> None:
    mock = MockTransport(chirp_ok("m-1"))
    app = norq.Norq.from_dict(
        config(a=chirp()), plugin_manager=pm, environ={}, transports={"http": mock}
    )
    assert app.send(norq.Notification("sms", ANN, body="hi")).message_id == "m-1"
    preview = app.preview(norq.Notification("sms", ANN, body="hi"))
    assert preview.provider == "a"
    assert CHIRP_SECRET not in app.redactor(preview.request)


@given(st.text(alphabet=st.characters(categories=("Nd",)), min_size=7, max_size=14))
def test_e164_accepts_ascii_digits_only(digits: str) -> None:
    number = "+1" + digits
    assert is_e164(number) == digits.isascii()
    if not digits.isascii():
        with pytest.raises(norq.MessageError, match=r"E\.164"):
            norq.E164.check_recipient(number)


def test_the_reported_non_ascii_number_is_refused(pm: pluggy.PluginManager) -> None:
    app = norq.Norq.from_dict(config(a=chirp()), plugin_manager=pm, environ={})
    with pytest.raises(norq.MessageError, match=r"not an E\.164 phone number"):
        app.prepare("sms", "+1٢٣٤٥٦٧٨", body="x")


# -- the ledger ---------------------------------------------------------------------


def test_a_ledger_holds_each_recipient_before_its_request_and_records_every_receipt(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    ledger = norq.SqliteLedger(tmp_path / "run.db")
    states_when_sent: list[norq.EntryState | None] = []

    def record_when_sent(request: Any) -> Any:
        to = dict(request.form())["to"]
        row = {ANN.lstrip("+"): 1, "15551230003": 3}[to]
        entry = ledger.entry(row)
        states_when_sent.append(entry.state if entry else None)
        return chirp_ok()

    mock = MockTransport(handler=record_when_sent)
    app = norq.Norq.from_dict(
        config(a=chirp()), plugin_manager=pm, environ={}, transports={"http": mock}
    )
    people = [ANN, "bad", "+15551230003"]
    receipts = list(app.notify_many("sms", people, body="hi", ledger=ledger))

    assert [r.ok for r in receipts] == [True, False, True]
    assert states_when_sent == [norq.EntryState.SENDING, norq.EntryState.SENDING]
    assert [ledger.entry(row).state for row in (1, 2, 3)] == [  # type: ignore[union-attr]
        norq.EntryState.ACCEPTED,
        norq.EntryState.FAILED,
        norq.EntryState.ACCEPTED,
    ]
    assert list(app.notify_many("sms", people, body="hi", ledger=ledger)) == []
    ledger.close()


async def test_a_ledger_works_for_async_bulk_sends(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    mock = MockTransport(handler=lambda recorded: chirp_status("3", "bad"))
    app = norq.Norq.from_dict(
        config(a=chirp()), plugin_manager=pm, environ={}, transports={"http": mock}
    )
    with norq.SqliteLedger(tmp_path / "run.db") as ledger:
        receipts = [r async for r in app.anotify_many("sms", [ANN], body="hi", ledger=ledger)]
        assert [r.ok for r in receipts] == [False]
        assert ledger.entry(1).state is norq.EntryState.FAILED  # type: ignore[union-attr]


def test_a_ledger_that_cannot_write_stops_the_run_before_anything_is_sent(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    class Full(norq.SqliteLedger):
        def claim(
            self, rows: Sequence[norq.LedgerRow], policy: norq.ResendPolicy
        ) -> list[norq.Claim]:
            raise OSError("disk full")

    mock = MockTransport(json_response(200, {}))
    app = norq.Norq.from_dict(
        config(a=chirp()), plugin_manager=pm, environ={}, transports={"http": mock}
    )
    with Full(tmp_path / "run.db") as ledger, pytest.raises(OSError, match="disk full"):
        list(app.notify_many("sms", [ANN], body="hi", ledger=ledger))
    assert mock.requests == []


# -- item-6 fixes ----------------------------------------------------------------------


def test_the_redactor_renders_a_request_with_secrets_masked(pm: pluggy.PluginManager) -> None:
    app = norq.Norq.from_dict(config(a=chirp()), plugin_manager=pm, environ={})
    prepared = app.prepare("sms", ANN, body="hi")
    shown = app.redactor(prepared.request)
    assert shown.startswith("POST https://a.chirp.test/sms/json")
    assert CHIRP_SECRET not in shown
    assert "api_secret=***" in shown
    assert app.redactor(f"sent with {CHIRP_SECRET}") == "sent with ***"


def test_jinja_globals_render_like_jinja_in_the_fast_path() -> None:
    document = {
        "providers": {"console": {}},
        "routing": {"chat": "console"},
        "templates": {
            "count": {"chat": {"body": "{{ range }}|{{ name }}"}},
            "shadowed": {"chat": {"body": "{{ range }}"}},
        },
    }
    from jinja2.sandbox import SandboxedEnvironment

    app = norq.Norq.from_dict(document, environ={})
    expected = SandboxedEnvironment().from_string("{{ range }}|{{ name }}").render(name="x")
    assert app.prepare("chat", "ann", template="count", data={"name": "x"}).message.body == expected
    assert app.prepare("chat", "ann", template="shadowed", data={"range": 5}).message.body == "5"
