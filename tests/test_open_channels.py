"""Open channels: a plugin's own channel joins multi-channel notifications with no core change.

The ``pager`` channel below exists nowhere in Norq: a throwaway plugin
declares it, with the format of its recipients, and it is routed, addressed
on a contact, checked, sent and reported like ``email``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import pluggy
import pytest

import norq
from norq.plugins import get_plugin_manager
from norq.testing import MockTransport, json_response


def _pager_id(value: str) -> str:
    if re.fullmatch(r"[A-Z]{3}-[0-9]{1,4}", value):
        return value
    raise ValueError("three capital letters, a hyphen and up to four digits")


PAGER_ID = norq.AddressFormat("a pager id", "ADA-7", _pager_id)


class PagerProvider(norq.Provider[norq.ProviderConfig]):
    name = "pager"
    channels = frozenset({"pager"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"pager": PAGER_ID}

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url="https://pager.example/page",
            json={"pager": message.to, "text": message.body},
            message_id_path="$.id",
            retry=self.retry,
        )


class PagerPlugin:
    @norq.hookimpl
    def register_providers(self, register: Callable[[type[norq.Provider]], None]) -> None:
        register(PagerProvider)


CONFIG: dict[str, Any] = {
    "providers": {"pager": {}, "console": {}},
    "routing": {"pager": "pager", "email": "console"},
    "templates": {"outage": {"pager": {"body": "{{ service }} is down"}, "email": {"body": "x"}}},
    "notifications": {"outage": {"channels": ["pager", "email"], "strategy": "first"}},
}


@pytest.fixture
def pm() -> Iterator[pluggy.PluginManager]:
    manager = get_plugin_manager()
    plugin = PagerPlugin()
    manager.register(plugin)
    try:
        yield manager
    finally:
        manager.unregister(plugin)


def build(pm: pluggy.PluginManager, *answers: norq.Response) -> tuple[norq.Norq, MockTransport]:
    mock = MockTransport(*answers)
    app = norq.Norq.from_dict(CONFIG, plugin_manager=pm, environ={}, transports={"http": mock})
    return app, mock


def test_a_plugin_channel_joins_a_multi_channel_notification(pm: pluggy.PluginManager) -> None:
    app, mock = build(pm, json_response(200, {"id": "p-1"}))
    ada = norq.Contact(pager="ADA-7", email="ada@example.com")
    with app:
        receipts = app.notify(notification="outage", to=ada, data={"service": "API"})
    assert [(r.channel, r.ok, r.message_id) for r in receipts] == [("pager", True, "p-1")]
    assert mock.requests[0].json() == {"pager": "ADA-7", "text": "API is down"}


def test_a_failed_plugin_channel_falls_to_the_next(pm: pluggy.PluginManager) -> None:
    app, _ = build(pm, json_response(400, {"code": "gone", "message": "no such pager"}))
    with app:
        receipts = app.notify(
            notification="outage",
            to={"pager": "ADA-7", "email": "ada@example.com"},
            data={"service": "API"},
        )
    assert [(r.channel, r.ok) for r in receipts] == [("pager", False), ("email", True)]


def test_a_recipient_in_the_wrong_format_is_refused_before_anything_is_sent(
    pm: pluggy.PluginManager,
) -> None:
    app, mock = build(pm)
    with app, pytest.raises(norq.MessageError) as caught:
        app.notify(notification="outage", to=norq.Contact(pager="ada"), data={"service": "x"})
    assert caught.value.code == "invalid_recipient"
    assert str(caught.value) == (
        "recipient 'ada' is not a pager id: three capital letters, a hyphen and up to four "
        "digits; write it like ADA-7"
    )
    assert mock.requests == []


def test_a_notification_may_name_any_routed_channel_and_no_other(
    pm: pluggy.PluginManager,
) -> None:
    broken = {**CONFIG, "notifications": {"outage": {"channels": ["pager", "fax"]}}}
    with pytest.raises(norq.ConfigError, match="channel 'fax' is not routed"):
        norq.Norq.from_dict(broken, plugin_manager=pm, environ={})


def test_a_contact_holds_any_channel_and_needs_one_address() -> None:
    contact = norq.Contact({"pager": "ADA-7"}, push="token-1", email=None, data={"name": "Ada"})
    assert contact.addresses == {"pager": "ADA-7", "push": "token-1"}
    assert contact.address("email") is None
    assert contact.data == {"name": "Ada"}
    with pytest.raises(norq.MessageError, match="at least one address"):
        norq.Contact(email=None)
    with pytest.raises(norq.MessageError, match="leading or trailing whitespace"):
        norq.Contact(pager=" ADA-7")
