"""A non-HTTP transport registered from a test plugin, the way an SMTP plugin will be.

The ``postal`` provider prepares a ``Letter`` (not an HTTP request) for the
``outbox`` transport, which keeps one "connection" open across sends, as an
SMTP transport reuses its session through a bulk send. Retries, receipts,
hooks, failover and the dry run stay Norq's.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pluggy
import pytest

import norq
from norq.plugins import get_plugin_manager, transport_registry


@dataclass(frozen=True)
class Letter:
    """What the postal provider prepares: an email, not an HTTP request."""

    sender: str
    to: str
    subject: str
    body: str
    retry: norq.RetryPolicy = field(default_factory=norq.RetryPolicy)
    transport: str = "outbox"

    def __str__(self) -> str:
        return f"From: {self.sender}\nTo: {self.to}\nSubject: {self.subject}\n\n{self.body}"


class PostalConfig(norq.ProviderConfig):
    sender: str = "ops@norq.test"


class PostalProvider(norq.Provider[PostalConfig]):
    name = "postal"
    channels = frozenset({"email"})
    message_fields = frozenset({"subject"})

    def prepare_send(self, message: norq.Message) -> Letter:
        subject = str(message.fields.get("subject", ""))
        return Letter(self.config.sender, message.to, subject, message.body or "", self.retry)

    def read_send(self, request: Any, response: norq.Response) -> norq.SendResult:
        reply = response.body.decode()
        if response.status == 250:
            return norq.SendResult.accepted(reply.rsplit(" ", 1)[-1])
        if 400 <= response.status < 500:
            return norq.SendResult.failed("provider_unavailable", reply, disposition="retry")
        return norq.SendResult.failed(
            "invalid_recipient", reply, provider_code=str(response.status)
        )


class Outbox:
    """A fake mail server session: opened once, reused, answers by recipient."""

    opened: ClassVar[list[Outbox]] = []

    def __init__(self, settings: norq.TransportSettings) -> None:
        self.settings = settings
        self.session: list[Letter] | None = None
        self.sessions_opened = 0
        self.busy_left = 1
        self.ids = itertools.count(1)
        Outbox.opened.append(self)

    def _session(self) -> list[Letter]:
        if self.session is None:
            self.session = []
            self.sessions_opened += 1
        return self.session

    def send(self, request: Any) -> norq.Response | norq.TransportFailure:
        assert isinstance(request, Letter)
        if request.to.startswith("down@"):
            return norq.TransportFailure("connect", "connection refused")
        if request.to.startswith("busy@") and self.busy_left:
            self.busy_left -= 1
            return norq.Response(421, {}, b"4.7.0 try again later")
        if request.to.startswith("nobody@"):
            return norq.Response(550, {}, b"5.1.1 no such user")
        self._session().append(request)
        return norq.Response(250, {}, f"2.0.0 Ok: queued as Q{next(self.ids)}".encode())

    async def asend(self, request: Any) -> norq.Response | norq.TransportFailure:
        return self.send(request)

    def close(self) -> None:
        self.session = None

    async def aclose(self) -> None:
        self.close()


class PostalPlugin:
    @norq.hookimpl
    def register_providers(self, register: norq.Register) -> None:
        register(PostalProvider)

    @norq.hookimpl
    def register_transports(self, register: norq.RegisterTransport) -> None:
        register("outbox", Outbox)


class Observer:
    def __init__(self) -> None:
        self.before: list[Any] = []
        self.after: list[norq.Receipt] = []

    @norq.hookimpl
    def before_send(self, request: Any, provider: str) -> None:
        self.before.append((provider, request))

    @norq.hookimpl
    def after_send(self, receipt: norq.Receipt) -> None:
        self.after.append(receipt)


@pytest.fixture
def pm() -> Iterator[pluggy.PluginManager]:
    manager = get_plugin_manager()
    plugin = PostalPlugin()
    manager.register(plugin, name="postal-plugin")
    Outbox.opened.clear()
    try:
        yield manager
    finally:
        manager.unregister(plugin)


def postal_app(pm: pluggy.PluginManager, *chain: str) -> norq.Norq:
    names = chain or ("postal",)
    document = {
        "providers": {name: {"type": "postal", "retry": {"backoff": 0}} for name in names},
        "routing": {"email": list(names)},
    }
    return norq.Norq.from_dict(document, plugin_manager=pm, environ={})


def test_a_plugin_transport_is_registered_by_name(pm: pluggy.PluginManager) -> None:
    registry = transport_registry(pm)
    assert registry["outbox"] is Outbox
    assert {"http", "console", "outbox"} <= set(registry)


def test_a_non_http_request_goes_through_its_transport(pm: pluggy.PluginManager) -> None:
    with postal_app(pm) as app:
        receipt = app.notify("email", "ann@norq.test", body="hi", subject="Hello")
    (outbox,) = Outbox.opened
    assert (receipt.ok, receipt.message_id, receipt.status_code) == (True, "Q1", 250)
    assert outbox.settings.timeout == 10.0


def test_bulk_sends_reuse_one_session(pm: pluggy.PluginManager) -> None:
    recipients = [f"user{n}@norq.test" for n in range(5)]
    with postal_app(pm) as app:
        receipts = list(app.notify_many("email", recipients, body="hi"))
        (outbox,) = Outbox.opened
        assert outbox.session is not None
        assert len(outbox.session) == 5
    assert all(r.ok for r in receipts)
    assert outbox.sessions_opened == 1
    assert outbox.session is None  # closed with the app


async def test_async_bulk_goes_through_the_same_transport(pm: pluggy.PluginManager) -> None:
    async with postal_app(pm) as app:
        receipts = [r async for r in app.anotify_many("email", ["a@n.test", "b@n.test"], body="x")]
    assert sorted(r.message_id or "" for r in receipts) == ["Q1", "Q2"]
    assert Outbox.opened[0].sessions_opened == 1


def test_retries_and_receipts_are_the_executors(pm: pluggy.PluginManager) -> None:
    with postal_app(pm) as app:
        receipt = app.notify("email", "busy@norq.test", body="hi")
    assert (receipt.ok, receipt.attempts) == (True, 2)


def test_a_transport_failure_is_retried_then_fails_over(pm: pluggy.PluginManager) -> None:
    with postal_app(pm, "first", "second") as app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("email", "down@norq.test", body="hi")
    receipt = caught.value.receipt
    assert (receipt.provider, receipt.attempts) == ("second", 6)
    assert receipt.error is not None
    assert receipt.error.code == "connect_error"


def test_a_final_answer_stops_the_chain(pm: pluggy.PluginManager) -> None:
    with postal_app(pm, "first", "second") as app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("email", "nobody@norq.test", body="hi")
    receipt = caught.value.receipt
    assert (receipt.provider, receipt.attempts, receipt.status_code) == ("first", 1, 550)
    assert receipt.error is not None
    assert (receipt.error.code, receipt.error.provider_code) == ("invalid_recipient", "550")


def test_hooks_see_the_non_http_request(pm: pluggy.PluginManager) -> None:
    observer = Observer()
    pm.register(observer)
    try:
        with postal_app(pm) as app:
            app.notify("email", "ann@norq.test", body="hi")
    finally:
        pm.unregister(observer)
    ((provider, request),) = observer.before
    assert provider == "postal"
    assert isinstance(request, Letter)
    assert [r.message_id for r in observer.after] == ["Q1"]


def test_a_dry_run_shows_the_request_by_its_str(pm: pluggy.PluginManager) -> None:
    app = postal_app(pm)
    prepared = app.prepare("email", "ann@norq.test", body="hi", subject="Hello")
    text = app.redactor(prepared.request)
    assert "# transport: outbox" in text
    assert "Subject: Hello" in text
    assert Outbox.opened == []  # nothing was opened, let alone sent


def test_a_request_for_an_unregistered_transport_is_a_plugin_error() -> None:
    executor = norq.Executor()
    letter = Letter("a@n.test", "b@n.test", "s", "b")
    with pytest.raises(norq.PluginError, match="transport 'outbox', which no plugin registered"):
        executor.send(letter)


def test_two_plugins_registering_one_transport_name_is_an_error(pm: pluggy.PluginManager) -> None:
    class Rival:
        @norq.hookimpl
        def register_transports(self, register: norq.RegisterTransport) -> None:
            register("outbox", lambda settings: Outbox(settings))

    rival = Rival()
    pm.register(rival, name="rival")
    try:
        with pytest.raises(norq.PluginError, match="transport 'outbox' is registered twice"):
            transport_registry(pm)
    finally:
        pm.unregister(rival)


def test_console_stream_replaces_only_the_console_transport() -> None:
    stream = io.StringIO()
    document = {"providers": {"console": {}}, "routing": {"chat": "console"}}
    with norq.Norq.from_dict(document, environ={}, console_stream=stream) as app:
        receipt = app.notify("chat", "ann", body="hi")
    assert receipt.ok
    assert "[norq console] chat -> ann" in stream.getvalue()
