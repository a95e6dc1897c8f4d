"""A send the provider accepts comes back with the provider's id, or says why there is none.

The rule lives in the seam, not in each reader: a provider's own
``read_send`` that accepts a send without an id (``None`` or ``""``) is
reported as ``bad_response``, unless the provider declares that its API
issues no ids (``issues_message_ids = False``, as Slack's incoming webhooks).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pluggy
import pytest

import norq
from norq.plugins import get_plugin_manager
from norq.testing import MockTransport, json_response


class BlankConfig(norq.ProviderConfig):
    answer_id: str | None = None


class Blank(norq.Provider[BlankConfig]):
    """Reads its own answer, and takes every 200 as accepted with ``answer_id``."""

    name = "blank"
    channels = frozenset({"sms"})

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST", url="https://blank.test/send", json={"to": message.to}, retry=self.retry
        )

    def read_send(self, request: Any, response: norq.Response) -> norq.SendResult:
        return norq.SendResult.accepted(self.config.answer_id)


class Idless(Blank):
    """An API that issues no ids, and says so."""

    name = "idless"
    issues_message_ids = False


class _Plugin:
    @norq.hookimpl
    def register_providers(self, register: norq.Register) -> None:
        register(Blank)
        register(Idless)


@pytest.fixture
def pm() -> pluggy.PluginManager:
    manager = get_plugin_manager(load_entry_points=False)
    manager.register(_Plugin())
    return manager


def _app(pm: pluggy.PluginManager, mock: MockTransport, *chain: dict[str, Any]) -> norq.Norq:
    providers = {f"p{index}": entry for index, entry in enumerate(chain)}
    document = {"providers": providers, "routing": {"sms": list(providers)}}
    return norq.Norq.from_dict(document, environ={}, plugin_manager=pm, transports={"http": mock})


def _receipt(app: norq.Norq, asynchronous: bool) -> norq.Receipt:
    try:
        if asynchronous:
            return asyncio.run(app.anotify("sms", "+15551230001", body="hi"))  # type: ignore[arg-type]
        return app.notify("sms", "+15551230001", body="hi")
    except norq.DeliveryError as failed:
        return failed.receipt


RETRYING = {"max_retries": 3, "backoff": 0, "retry_unconfirmed": True}


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("answer_id", [None, ""], ids=["None", "empty"])
def test_an_accepted_send_without_an_id_is_a_final_bad_response(
    pm: pluggy.PluginManager, answer_id: str | None, asynchronous: bool
) -> None:
    mock = MockTransport(handler=lambda request: json_response(200, {}))
    blank = {"type": "blank", "config": {"answer_id": answer_id}, "retry": RETRYING}
    app = _app(pm, mock, blank, {"type": "idless"})

    receipt = _receipt(app, asynchronous)

    assert not receipt.ok
    assert receipt.provider == "p0"  # a duplicate is worse: no retry, no failover
    assert len(mock.requests) == 1
    assert receipt.error is not None
    assert (receipt.error.code, receipt.error.disposition) == ("bad_response", "final")
    assert "'p0' (blank) took the message but its answer gave no message id" in (
        receipt.error.message
    )


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_provider_that_declares_no_ids_delivers_without_one(
    pm: pluggy.PluginManager, asynchronous: bool
) -> None:
    mock = MockTransport(json_response(200, {}))
    receipt = _receipt(_app(pm, mock, {"type": "idless"}), asynchronous)
    assert receipt.ok
    assert receipt.message_id is None


def test_an_id_is_kept_as_the_provider_gave_it(pm: pluggy.PluginManager) -> None:
    mock = MockTransport(json_response(200, {}))
    receipt = _receipt(_app(pm, mock, {"type": "blank", "config": {"answer_id": "m-1"}}), False)
    assert (receipt.ok, receipt.message_id) == (True, "m-1")


def test_status_queries_and_raw_requests_are_not_sends() -> None:
    # A raw request's answer has no message id, and is not a failure for that.
    twilio = {
        "account_sid": "AC" + "0" * 32,
        "auth_token": "t",
        "from": "+15005550006",
    }
    mock = MockTransport(json_response(200, {"account": "ok"}))
    app = norq.Norq.from_dict(
        {"providers": {"twilio": {"config": twilio}}},
        environ={},
        plugin_manager=get_plugin_manager(load_entry_points=False),
        transports={"http": mock},
    )
    answer = app.raw_request("twilio", "GET", "/2010-04-01/Accounts/{AccountSid}.json")
    assert answer.ok
