"""The application API: notify, bulk, failover, bad input, hooks, templates, console."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pluggy
import pytest
import respx

import norq
from norq import default as default_module
from tests.conftest import ACME_SECRET, acme_config

URL = "https://api.acme.test/v1/messages"
EU_URL = "https://eu.acme.test/v1/messages"

MakeNorq = Callable[..., norq.Norq]


def ok(message_id: str = "m1") -> httpx.Response:
    return httpx.Response(201, json={"data": {"id": message_id}})


def with_templates(**templates: Any) -> dict[str, Any]:
    document = acme_config()
    document["templates"] = templates
    return document


def failover_config() -> dict[str, Any]:
    return {
        "providers": {
            "acme": {"config": {"api_key": "k1"}, "retry": {"max_retries": 1}},
            "acme_eu": {
                "type": "acme",
                "config": {"api_key": "k2", "base_url": "https://eu.acme.test"},
            },
        },
        "routing": {"sms": ["acme", "acme_eu"]},
    }


@respx.mock
def test_notify_sends_and_returns_a_receipt(make_norq: MakeNorq) -> None:
    route = respx.post(URL).mock(return_value=ok("m-42"))
    receipt = make_norq().notify("sms", "+15551234567", body="Your code is 1234")
    assert receipt == norq.Receipt(
        ok=True,
        channel="sms",
        provider="acme",
        to="+15551234567",
        message_id="m-42",
        status_code=201,
        attempts=1,
    )
    assert json.loads(route.calls.last.request.content) == {
        "to": "+15551234567",
        "from": "Norq",
        "text": "Your code is 1234",
    }


@respx.mock
def test_per_message_fields_reach_the_provider(make_norq: MakeNorq) -> None:
    route = respx.post(URL).mock(return_value=ok())
    make_norq().notify("sms", "+15551234567", body="x", priority="high")
    assert json.loads(route.calls.last.request.content)["priority"] == "high"


@respx.mock
def test_failed_delivery_raises_with_the_receipt(make_norq: MakeNorq) -> None:
    body = {"error": {"code": "E_NUMBER", "message": "no such number", "docs": "https://d"}}
    respx.post(URL).mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq().notify("sms", "+15551234567", body="hi")
    receipt = caught.value.receipt
    assert not receipt.ok
    assert receipt.error == norq.DeliveryFailure(
        code="invalid_recipient",
        message="no such number",
        provider_code="E_NUMBER",
        more_info="https://d",
        disposition="final",
    )
    assert "invalid_recipient: no such number" in str(caught.value)
    assert isinstance(caught.value, norq.NorqError)


# -- bad input never reaches the network ---------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"channel": "fax", "body": "x"}, norq.MessageError, "channel 'fax' is not routed"),
        ({"body": ""}, norq.MessageError, "no content"),
        ({"body": None}, norq.MessageError, "no content"),
        ({"body": "x", "template": "otp"}, norq.MessageError, "not both"),
        ({"to": "5551234", "body": "x"}, norq.MessageError, "not an E.164"),
        ({"to": " +15551234567", "body": "x"}, norq.MessageError, "whitespace"),
        ({"template": "otp"}, norq.TemplateError, "needs 'code'"),
        ({"template": "nope"}, norq.TemplateError, "unknown template 'nope'"),
        ({"body": "x", "colour": "red"}, norq.MessageError, "does not understand 'colour'"),
        ({"body": "x", "provider": "ghost"}, norq.MessageError, "unknown provider 'ghost'"),
        ({"channel": "email", "to": "not-an-address", "body": "x"}, norq.MessageError, "email"),
    ],
)
@pytest.mark.respx(assert_all_called=False)
def test_bad_input_is_rejected_before_any_request(
    respx_mock: respx.MockRouter,
    make_norq: MakeNorq,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    route = respx_mock.post(URL).mock(return_value=ok())
    document = with_templates(otp={"sms": {"body": "code {{ code }}"}})
    document["routing"]["email"] = "acme"
    call: dict[str, Any] = {"channel": "sms", "to": "+15551234567", **kwargs}
    with pytest.raises(error, match=match):
        make_norq(document).notify(**call)
    assert not route.called


@pytest.mark.respx(assert_all_called=False)
def test_template_for_another_channel_only(
    respx_mock: respx.MockRouter, make_norq: MakeNorq
) -> None:
    route = respx_mock.post(URL).mock(return_value=ok())
    app = make_norq(with_templates(welcome={"email": {"body": "hi"}}))
    with pytest.raises(norq.TemplateError, match="has no 'sms' version; it has: email"):
        app.notify("sms", "+15551234567", template="welcome")
    assert not route.called


# -- templates ---------------------------------------------------------------------


@respx.mock
def test_template_renders_body_and_extra_parts(make_norq: MakeNorq) -> None:
    route = respx.post(URL).mock(return_value=ok())
    document = with_templates(
        welcome={"sms": {"body": "Hi {{ name }}", "subject": "For {{ name }}"}}
    )
    make_norq(document).notify("sms", "+15551234567", template="welcome", data={"name": "Ada"})
    sent = json.loads(route.calls.last.request.content)
    assert (sent["text"], sent["subject"]) == ("Hi Ada", "For Ada")


@pytest.mark.respx(assert_all_called=False)
def test_templates_are_sandboxed(respx_mock: respx.MockRouter, make_norq: MakeNorq) -> None:
    document = with_templates(evil={"sms": {"body": "{{ x.__class__.__mro__ }}"}})
    with pytest.raises(norq.TemplateError, match="failed to render"):
        make_norq(document).notify("sms", "+15551234567", template="evil", data={"x": 1})


def test_template_syntax_errors_surface_at_load(make_norq: MakeNorq) -> None:
    with pytest.raises(norq.ConfigError, match=r"templates\.otp\.sms\.body: template syntax error"):
        make_norq(with_templates(otp={"sms": {"body": "{% if %}"}}))


# -- failover --------------------------------------------------------------------


@respx.mock
def test_failover_after_transient_failure(make_norq: MakeNorq) -> None:
    primary = respx.post(URL).mock(return_value=httpx.Response(503))
    backup = respx.post(EU_URL).mock(return_value=ok("eu-1"))
    receipt = make_norq(failover_config()).notify("sms", "+15551234567", body="hi")
    assert (receipt.ok, receipt.provider, receipt.message_id) == (True, "acme_eu", "eu-1")
    assert primary.call_count == 2  # one retry configured, then fail over
    assert backup.call_count == 1
    assert receipt.attempts == 3


@respx.mock
def test_failover_after_connect_errors(make_norq: MakeNorq) -> None:
    respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    respx.post(EU_URL).mock(return_value=ok("eu-2"))
    receipt = make_norq(failover_config()).notify("sms", "+15551234567", body="hi")
    assert receipt.provider == "acme_eu"


@pytest.mark.respx(assert_all_called=False)
def test_no_failover_after_a_permanent_error(
    respx_mock: respx.MockRouter, make_norq: MakeNorq
) -> None:
    respx_mock.post(URL).mock(
        return_value=httpx.Response(400, json={"error": {"code": "E_NUMBER", "message": "bad"}})
    )
    backup = respx_mock.post(EU_URL).mock(return_value=ok())
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq(failover_config()).notify("sms", "+15551234567", body="hi")
    assert caught.value.receipt.provider == "acme"
    assert not backup.called


@respx.mock
def test_every_provider_failing_reports_the_last(make_norq: MakeNorq) -> None:
    respx.post(URL).mock(return_value=httpx.Response(500))
    respx.post(EU_URL).mock(return_value=httpx.Response(502))
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq(failover_config()).notify("sms", "+15551234567", body="hi")
    receipt = caught.value.receipt
    assert (receipt.provider, receipt.status_code, receipt.attempts) == ("acme_eu", 502, 5)


@respx.mock
def test_explicit_provider_skips_the_route(make_norq: MakeNorq) -> None:
    respx.post(EU_URL).mock(return_value=ok("eu"))
    receipt = make_norq(failover_config()).notify(
        "sms", "+15551234567", body="x", provider="acme_eu"
    )
    assert receipt.provider == "acme_eu"


# -- bulk ------------------------------------------------------------------------


@respx.mock
def test_notify_many_accounts_for_every_recipient(make_norq: MakeNorq) -> None:
    respx.post(URL).mock(return_value=ok())
    recipients = [
        "+15550000001",
        "oops",
        norq.Recipient("+15550000002", data={"name": "Bo"}),
        {"to": "+15550000003", "name": "Cy"},
        {"name": "no to"},
        42,
    ]
    app = make_norq(with_templates(hi={"sms": {"body": "Hi {{ name }}"}}))
    receipts = list(
        app.notify_many("sms", recipients, template="hi", data={"name": "you"})  # type: ignore[arg-type]
    )
    assert [r.index for r in receipts] == [0, 1, 2, 3, 4, 5]
    assert [r.ok for r in receipts] == [True, False, True, True, False, False]
    assert receipts[1].error is not None
    assert receipts[1].error.code == "invalid_recipient"
    assert receipts[1].attempts == 0


@respx.mock
def test_notify_many_uses_per_recipient_data(make_norq: MakeNorq) -> None:
    route = respx.post(URL).mock(return_value=ok())
    app = make_norq(with_templates(hi={"sms": {"body": "Hi {{ name }}"}}))
    list(
        app.notify_many(
            "sms",
            [{"to": "+15550000001", "name": "Ada"}, "+15550000002"],
            template="hi",
            data={"name": "you"},
        )
    )
    texts = [json.loads(call.request.content)["text"] for call in route.calls]
    assert texts == ["Hi Ada", "Hi you"]


@respx.mock
def test_missing_template_variable_fails_only_that_recipient(make_norq: MakeNorq) -> None:
    respx.post(URL).mock(return_value=ok())
    app = make_norq(with_templates(hi={"sms": {"body": "Hi {{ name }}"}}))
    receipts = list(
        app.notify_many("sms", [{"to": "+15550000001", "name": "A"}, "+15550000002"], template="hi")
    )
    assert receipts[0].ok
    assert receipts[1].error is not None
    assert receipts[1].error.code == "template_error"


@pytest.mark.respx(assert_all_called=False)
def test_notify_many_checks_common_problems_before_sending(
    respx_mock: respx.MockRouter, make_norq: MakeNorq
) -> None:
    route = respx_mock.post(URL).mock(return_value=ok())
    with pytest.raises(norq.MessageError, match="not routed"):
        make_norq().notify_many("fax", ["+15550000001"], body="x")
    with pytest.raises(norq.TemplateError, match="unknown template"):
        make_norq().notify_many("sms", ["+15550000001"], template="nope")
    assert not route.called


@pytest.mark.respx(assert_all_called=False)
def test_notify_many_streams_lazily(respx_mock: respx.MockRouter, make_norq: MakeNorq) -> None:
    route = respx_mock.post(URL).mock(return_value=ok())
    consumed: list[int] = []

    def recipients() -> Iterator[str]:
        for i in range(1_000_000):
            consumed.append(i)
            yield f"+1555{i:07d}"

    receipts = make_norq().notify_many("sms", recipients(), body="x")
    assert consumed == []
    first_three = [next(receipts) for _ in range(3)]
    assert len(consumed) == 3
    assert route.call_count == 3
    assert all(r.ok for r in first_three)


@respx.mock
async def test_anotify_many_sends_every_recipient_concurrently(make_norq: MakeNorq) -> None:
    respx.post(URL).mock(return_value=ok())
    app = make_norq()
    numbers = [f"+1555000{i:04d}" for i in range(200)] + ["bad"]
    receipts = [r async for r in app.anotify_many("sms", numbers, body="x", concurrency=16)]
    await app.aclose()
    assert sorted(r.index for r in receipts) == list(range(201))  # type: ignore[type-var]
    assert sum(r.ok for r in receipts) == 200
    by_index = {r.index: r for r in receipts}
    assert by_index[200].error is not None
    assert by_index[200].error.code == "invalid_recipient"


@respx.mock
async def test_anotify_many_keeps_no_more_in_flight_than_the_connection_pool(
    make_norq: MakeNorq,
) -> None:
    import asyncio

    in_flight = peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        return ok()

    respx.post(URL).mock(side_effect=answer)
    app = make_norq(acme_config(executor={"max_connections": 3}))
    numbers = [f"+1555000{i:04d}" for i in range(40)]
    receipts = [r async for r in app.anotify_many("sms", numbers, body="x", concurrency=50)]
    await app.aclose()
    assert sum(r.ok for r in receipts) == 40
    assert peak == 3


def test_the_config_default_pool_is_the_transports_default() -> None:
    from norq.config import ExecutorSettings
    from norq.transports.base import DEFAULT_MAX_CONNECTIONS

    assert ExecutorSettings().max_connections == DEFAULT_MAX_CONNECTIONS


@respx.mock
async def test_anotify_many_accepts_async_iterables(make_norq: MakeNorq) -> None:
    respx.post(URL).mock(return_value=ok())

    async def numbers() -> AsyncIterator[str]:
        for i in range(30):
            yield f"+1555000{i:04d}"

    app = make_norq()
    receipts = [r async for r in app.anotify_many("sms", numbers(), body="x", concurrency=4)]
    assert sorted(r.to for r in receipts) == sorted(f"+1555000{i:04d}" for i in range(30))


@respx.mock
async def test_anotify_many_stops_cleanly_when_the_consumer_leaves(make_norq: MakeNorq) -> None:
    route = respx.post(URL).mock(return_value=ok())
    app = make_norq()
    stream = app.anotify_many(
        "sms", (f"+1555{i:07d}" for i in range(10_000)), body="x", concurrency=4
    )
    seen = 0
    async for _ in stream:
        seen += 1
        if seen == 5:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert route.call_count < 100


@respx.mock
async def test_anotify_many_propagates_a_failing_recipient_source(make_norq: MakeNorq) -> None:
    respx.post(URL).mock(return_value=ok())

    def broken() -> Iterator[str]:
        yield "+15550000001"
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        async for _ in make_norq().anotify_many("sms", broken(), body="x", concurrency=2):
            pass


async def test_anotify_many_rejects_zero_concurrency(make_norq: MakeNorq) -> None:
    with pytest.raises(norq.MessageError, match="concurrency"):
        make_norq().anotify_many("sms", [], body="x", concurrency=0)


@respx.mock
async def test_anotify_returns_a_receipt(make_norq: MakeNorq) -> None:
    respx.post(URL).mock(return_value=ok("a1"))
    async with make_norq() as app:
        receipt = await app.anotify("sms", "+15551234567", body="x")
    assert receipt.message_id == "a1"


# -- hooks -----------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[norq.PreparedRequest, str]] = []
        self.receipts: list[norq.Receipt] = []

    @norq.hookimpl
    def before_send(
        self, request: norq.PreparedRequest, message: norq.Message, provider: str
    ) -> None:
        self.requests.append((request, provider))

    @norq.hookimpl
    def after_send(self, receipt: norq.Receipt) -> None:
        self.receipts.append(receipt)


@respx.mock
def test_observability_hooks_see_requests_and_receipts(
    make_norq: MakeNorq, plugin_manager: pluggy.PluginManager
) -> None:
    respx.post(URL).mock(return_value=ok())
    recorder = Recorder()
    plugin_manager.register(recorder)
    try:
        app = make_norq()
        app.notify("sms", "+15551234567", body="x")
        list(app.notify_many("sms", ["bad"], body="x"))
    finally:
        plugin_manager.unregister(recorder)
    assert [(r.url, p) for r, p in recorder.requests] == [(URL, "acme")]
    assert [r.ok for r in recorder.receipts] == [True, False]


@respx.mock
def test_hooks_registered_after_a_send_see_the_next_ones(
    make_norq: MakeNorq, plugin_manager: pluggy.PluginManager
) -> None:
    respx.post(URL).mock(return_value=ok())
    app = make_norq()
    app.notify("sms", "+15551234567", body="before the plugin")
    recorder = Recorder()
    plugin_manager.register(recorder)
    try:
        app.notify("sms", "+15551234567", body="x")
    finally:
        plugin_manager.unregister(recorder)
    app.notify("sms", "+15551234567", body="after the plugin")
    assert [p for _, p in recorder.requests] == ["acme"]
    assert len(recorder.receipts) == 1


@respx.mock
def test_a_failing_hook_does_not_stop_delivery(
    make_norq: MakeNorq, plugin_manager: pluggy.PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @norq.hookimpl
        def before_send(
            self, request: norq.PreparedRequest, message: norq.Message, provider: str
        ) -> None:
            raise RuntimeError("plugin bug")

    respx.post(URL).mock(return_value=ok())
    broken = Broken()
    plugin_manager.register(broken)
    try:
        assert make_norq().notify("sms", "+15551234567", body="x").ok
    finally:
        plugin_manager.unregister(broken)
    assert "before_send hook failed" in caplog.text


# -- console provider, module-level API, lifecycle ------------------------------


def test_console_provider_prints_instead_of_sending() -> None:
    stream = io.StringIO()
    document = {"providers": {"console": {}}, "routing": {"push": "console"}}
    app = norq.Norq.from_dict(document, environ={}, console_stream=stream)
    receipt = app.notify("push", "device-1", body="Deploy finished", title="CI")
    assert receipt.ok
    assert receipt.message_id is not None
    assert receipt.message_id.startswith("console-")
    assert stream.getvalue() == "[norq console] push -> device-1\n  title: CI\n  Deploy finished\n"


def test_module_level_notify_uses_the_discovered_config(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "norq.yaml"
    config.write_text("providers: {console: {}}\nrouting: {sms: console}\n")
    monkeypatch.setenv("NORQ_CONFIG", str(config))
    monkeypatch.setattr(default_module, "_default", None)
    receipt = norq.notify("sms", "+15551234567", body="hello")
    assert receipt.provider == "console"
    assert "hello" in capsys.readouterr().out


async def test_module_level_anotify(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "norq.yaml"
    config.write_text("providers: {console: {}}\nrouting: {sms: console}\n")
    monkeypatch.setenv("NORQ_CONFIG", str(config))
    monkeypatch.setattr(default_module, "_default", None)
    receipt = await norq.anotify("sms", "+15551234567", body="async hello")
    assert receipt.ok
    assert "async hello" in capsys.readouterr().out


@respx.mock
def test_context_manager_closes_the_pool(make_norq: MakeNorq) -> None:
    respx.post(URL).mock(return_value=ok())
    with make_norq() as app:
        app.notify("sms", "+15551234567", body="x")
        transport = app.executor.transport("http")._sync  # type: ignore[attr-defined]
        assert transport._client is not None
    assert transport._client is None


def test_prepare_builds_the_request_without_sending(make_norq: MakeNorq) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(URL).mock(return_value=ok())
        prepared = make_norq().prepare("sms", "+15551234567", body="hi")
        assert not route.called
    assert prepared.provider == "acme"
    assert prepared.request.json == {"to": "+15551234567", "from": "Norq", "text": "hi"}


def test_secret_does_not_leak_into_reprs(make_norq: MakeNorq) -> None:
    app = make_norq()
    prepared = app.prepare("sms", "+15551234567", body="hi")
    for text in (
        repr(app),
        repr(prepared),
        repr(prepared.request),
        repr(app.providers["acme"]),
        repr(app.config),
    ):
        assert ACME_SECRET not in text
