"""Each provider of a failover chain gets the message composed for it, and checks only that.

``stars`` marks up its text (``*`` is bold there) and takes at most 20
characters and a ``level`` option; ``plain`` takes any text and no option.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import pluggy
import pytest

import norq
from norq.plugins import get_plugin_manager
from norq.testing import MockTransport, RecordedRequest, json_response


def escape_stars(text: str) -> str:
    return text.replace("*", "\\*")


class Base(norq.Provider[norq.ProviderConfig]):
    channels = frozenset({"chat"})

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=f"https://{self.instance}.test/send",
            json={"to": message.to, "text": message.body, **message.fields},
            message_id_path="$.id",
            retry=self.retry,
        )


class Stars(Base):
    name = "stars"
    message_fields: ClassVar[frozenset[str]] = frozenset({"level"})

    def check_message(self, message: norq.Message) -> None:
        super().check_message(message)
        if len(message.body or "") > 20:
            raise norq.MessageError("stars takes at most 20 characters", code="message_too_long")

    def text_escape(self, fields: Mapping[str, Any]) -> Callable[[str], str]:
        return escape_stars


class Plain(Base):
    name = "plain"


class _Plugin:
    @norq.hookimpl
    def register_providers(self, register: norq.Register) -> None:
        register(Stars)
        register(Plain)


@pytest.fixture
def pm() -> Iterator[pluggy.PluginManager]:
    manager = get_plugin_manager(load_entry_points=False)
    plugin = _Plugin()
    manager.register(plugin)
    yield manager
    manager.unregister(plugin)


def answer(status_of: Mapping[str, int]) -> Callable[[RecordedRequest], norq.Response]:
    """Answers by host: the status given for it (201 by default), with an id."""

    def handler(request: RecordedRequest) -> norq.Response:
        host = request.url.split("/")[2].removesuffix(".test")
        return json_response(status_of.get(host, 201), {"id": f"{host}-1"})

    return handler


def app(pm: pluggy.PluginManager, mock: MockTransport) -> norq.Norq:
    document = {
        "providers": {"stars": {}, "plain": {}},
        "routing": {"chat": ["stars", "plain"]},
        "templates": {"hi": {"chat": {"body": "hi {{ name }}"}}},
    }
    return norq.Norq.from_dict(document, environ={}, plugin_manager=pm, transports={"http": mock})


def sent_to(mock: MockTransport) -> list[tuple[str, Any]]:
    return [(request.url.split("/")[2], request.json()["text"]) for request in mock.requests]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_message_the_primary_cannot_take_goes_to_the_next_and_the_receipt_says_why(
    pm: pluggy.PluginManager, asynchronous: bool
) -> None:
    mock = MockTransport(handler=answer({}))
    sender = app(pm, mock)
    long = "a body longer than twenty characters"
    if asynchronous:
        receipt = asyncio.run(sender.anotify("chat", "#ops", body=long))
    else:
        receipt = sender.notify("chat", "#ops", body=long)
    assert (receipt.ok, receipt.provider, receipt.message_id) == (True, "plain", "plain-1")
    assert receipt.skipped == (norq.Skipped("stars", "stars takes at most 20 characters"),)
    assert sent_to(mock) == [("plain.test", long)]


def test_each_provider_sends_the_template_escaped_for_its_own_markup(
    pm: pluggy.PluginManager,
) -> None:
    mock = MockTransport(handler=answer({"stars": 503}))
    receipt = app(pm, mock).notify("chat", "#ops", template="hi", data={"name": "*Ada*"})
    assert (receipt.ok, receipt.provider, receipt.skipped) == (True, "plain", ())
    texts = sent_to(mock)
    assert texts[0] == ("stars.test", "hi \\*Ada\\*")
    assert texts[-1] == ("plain.test", "hi *Ada*")


def test_an_option_one_provider_takes_skips_the_other_for_each_message(
    pm: pluggy.PluginManager,
) -> None:
    mock = MockTransport(handler=answer({"stars": 503}))
    with pytest.raises(norq.DeliveryError) as failed:
        app(pm, mock).notify("chat", "#ops", body="short", level="high")
    receipt = failed.value.receipt
    assert (receipt.ok, receipt.provider) == (False, "stars")
    (skipped,) = receipt.skipped
    assert skipped.provider == "plain"
    assert "does not understand 'level'" in skipped.reason


def test_an_option_no_provider_takes_is_refused_before_a_bulk_send(
    pm: pluggy.PluginManager,
) -> None:
    mock = MockTransport(handler=answer({}))
    with pytest.raises(norq.MessageError, match="does not understand 'colour'"):
        app(pm, mock).notify_many("chat", ["#a", "#b"], body="x", colour="red")
    assert mock.requests == []


def test_in_bulk_each_recipient_goes_to_the_first_provider_that_takes_its_message(
    pm: pluggy.PluginManager,
) -> None:
    mock = MockTransport(handler=answer({}))
    recipients = [
        norq.Recipient("#a", data={"name": "Al"}),
        norq.Recipient("#b", data={"name": "Bartholomew Montgomery"}),
    ]
    receipts = list(app(pm, mock).notify_many("chat", recipients, template="hi"))
    assert [(r.to, r.provider, [s.provider for s in r.skipped]) for r in receipts] == [
        ("#a", "stars", []),
        ("#b", "plain", ["stars"]),
    ]


def test_a_message_no_provider_can_take_is_refused_with_each_reason(
    pm: pluggy.PluginManager,
) -> None:
    mock = MockTransport(handler=answer({}))
    with pytest.raises(norq.MessageError) as refused:
        app(pm, mock).notify("chat", "#ops", body="  ")
    assert "only whitespace" in str(refused.value)
    assert mock.requests == []
