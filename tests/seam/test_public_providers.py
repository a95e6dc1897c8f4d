"""The two public-API providers, end to end through norq.testing.

Sync sends through a MockTransport; async sends on the default aiohttp
transport, and bulk sends, through a MockServer on loopback; failover on the
chirp provider's per-code dispositions.
"""

from __future__ import annotations

import random
from typing import Any

import pluggy
import pytest

import norq
from norq.testing import MockServer, MockTransport, RecordedRequest, json_response
from tests.seam.conftest import CHIRP_SECRET, PARCEL_KEY, chirp, config, parcel

ANN = "+15551230001"
BOB = "+15551230002"


def chirp_ok(message_id: str = "0A0000001") -> norq.Response:
    return json_response(200, {"message-count": "1", "messages": [_entry("0", message_id)]})


def chirp_status(status: str, text: str) -> norq.Response:
    entry = {"status": status, "error-text": text}
    return json_response(200, {"message-count": "1", "messages": [entry]})


def _entry(status: str, message_id: str) -> dict[str, Any]:
    return {"to": ANN.lstrip("+"), "message-id": message_id, "status": status}


def parcel_accepted(message_id: str | None = "pc-1") -> norq.Response:
    headers = {"x-message-id": message_id} if message_id else {}
    return norq.Response(202, headers, b"")


def app_with(
    pm: pluggy.PluginManager, document: dict[str, Any], mock: MockTransport, **executor: Any
) -> norq.Norq:
    sleeps: list[float] = []
    built = norq.Executor(
        transports={"http": mock},
        sleep=sleeps.append,
        rng=random.Random(3),
        **executor,
    )
    return norq.Norq.from_dict(document, plugin_manager=pm, environ={}, executor=built)


# -- chirp: failure inside a 200 body -------------------------------------------------


def test_chirp_sync_send_is_accepted_with_the_id_from_the_body(pm: pluggy.PluginManager) -> None:
    mock = MockTransport(chirp_ok("0A00000042"))
    with app_with(pm, config(a=chirp()), mock) as app:
        receipt = app.notify("sms", ANN, body="hello")
    assert (receipt.ok, receipt.message_id, receipt.provider) == (True, "0A00000042", "a")
    sent = mock.requests[0]
    assert sent.url == "https://a.chirp.test/sms/json"
    assert ("to", "15551230001") in sent.form()
    assert ("text", "hello") in sent.form()


def test_chirp_failure_in_a_200_body_is_a_failed_receipt(pm: pluggy.PluginManager) -> None:
    mock = MockTransport(chirp_status("4", "Bad Credentials"))
    with app_with(pm, config(a=chirp()), mock) as app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("sms", ANN, body="hello")
    receipt = caught.value.receipt
    assert not receipt.ok
    assert receipt.error is not None
    assert (receipt.error.code, receipt.error.provider_code) == ("invalid_credentials", "4")
    assert (receipt.error.message, receipt.error.disposition) == ("Bad Credentials", "failover")
    assert (receipt.status_code, receipt.attempts) == (200, 1)


def test_chirp_status_0_without_an_id_is_a_bad_response(pm: pluggy.PluginManager) -> None:
    mock = MockTransport(json_response(200, {"messages": [{"status": "0"}]}))
    with app_with(pm, config(a=chirp()), mock) as app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("sms", ANN, body="hello")
    assert caught.value.receipt.error is not None
    assert caught.value.receipt.error.code == "bad_response"


def test_chirp_throttled_retries_on_a_then_fails_over_to_b(pm: pluggy.PluginManager) -> None:
    throttled = chirp_status("1", "Throttled")
    mock = MockTransport(throttled, throttled, throttled, chirp_ok("0B1"))
    document = config(a=chirp("https://a.chirp.test"), b=chirp("https://b.chirp.test"))
    with app_with(pm, document, mock) as app:
        receipt = app.notify("sms", ANN, body="hello")
    assert [r.url.split("/")[2] for r in mock.requests] == ["a.chirp.test"] * 3 + ["b.chirp.test"]
    assert (receipt.ok, receipt.provider, receipt.message_id, receipt.attempts) == (
        True,
        "b",
        "0B1",
        4,
    )


def test_chirp_quota_exhausted_skips_retries_and_fails_over(pm: pluggy.PluginManager) -> None:
    mock = MockTransport(chirp_status("9", "Quota exceeded"), chirp_ok("0B2"))
    document = config(a=chirp("https://a.chirp.test"), b=chirp("https://b.chirp.test"))
    with app_with(pm, document, mock) as app:
        receipt = app.notify("sms", ANN, body="hello")
    assert len(mock.requests) == 2
    assert (receipt.provider, receipt.attempts) == ("b", 2)


def test_chirp_invalid_parameters_stop_without_failover(pm: pluggy.PluginManager) -> None:
    mock = MockTransport(chirp_status("3", "Invalid To"))
    document = config(a=chirp("https://a.chirp.test"), b=chirp("https://b.chirp.test"))
    with app_with(pm, document, mock) as app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("sms", ANN, body="hello")
    assert len(mock.requests) == 1
    receipt = caught.value.receipt
    assert (receipt.provider, receipt.attempts) == ("a", 1)
    assert receipt.error is not None
    assert (receipt.error.code, receipt.error.disposition) == ("invalid_message", "final")


def test_chirp_bulk_sends_one_receipt_per_recipient(pm: pluggy.PluginManager) -> None:
    def answer(request: RecordedRequest) -> norq.Response:
        to = dict(request.form())["to"]
        return chirp_status("6", "Unroutable") if to.endswith("2") else chirp_ok(f"id-{to}")

    mock = MockTransport(handler=answer)
    with app_with(pm, config(a=chirp()), mock) as app:
        receipts = list(app.notify_many("sms", [ANN, BOB, "not-a-number"], body="hi"))
    assert [(r.index, r.ok) for r in receipts] == [(0, True), (1, False), (2, False)]
    assert receipts[0].message_id == "id-15551230001"
    assert receipts[1].error is not None
    assert receipts[1].error.code == "invalid_recipient"
    assert receipts[2].attempts == 0
    assert len(mock.requests) == 2


# -- parcel: 202, empty body, id in a header -------------------------------------------


def test_parcel_sync_send_reads_the_id_from_the_header(pm: pluggy.PluginManager) -> None:
    mock = MockTransport(parcel_accepted("pc-77"))
    with app_with(pm, config(p=parcel()), mock) as app:
        receipt = app.notify("email", "ann@norq.test", body="hi", subject="Hello")
    assert (receipt.ok, receipt.message_id, receipt.status_code) == (True, "pc-77", 202)
    sent = mock.requests[0]
    assert sent.headers["authorization"] == f"Bearer {PARCEL_KEY}"
    assert sent.json()["subject"] == "Hello"


def test_parcel_202_without_the_id_header_is_a_bad_response(pm: pluggy.PluginManager) -> None:
    mock = MockTransport(parcel_accepted(None))
    with app_with(pm, config(p=parcel()), mock) as app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("email", "ann@norq.test", body="hi")
    error = caught.value.receipt.error
    assert error is not None
    assert (error.code, error.disposition) == ("bad_response", "final")
    assert "X-Message-Id" in error.message


def test_parcel_rate_limit_waits_until_the_reset_time(pm: pluggy.PluginManager) -> None:
    limited = json_response(
        429, {"errors": [{"message": "too many"}]}, {"X-RateLimit-Reset": "1700000012"}
    )
    mock = MockTransport(limited, parcel_accepted())
    sleeps: list[float] = []
    executor = norq.Executor(
        transports={"http": mock}, sleep=sleeps.append, clock=lambda: 1_700_000_000.0
    )
    app = norq.Norq.from_dict(config(p=parcel()), plugin_manager=pm, environ={}, executor=executor)
    assert app.notify("email", "ann@norq.test", body="hi").ok
    assert sleeps == [12.0]


# -- through the default transports on loopback ----------------------------------------


async def test_async_sends_on_the_default_aiohttp_transport(pm: pluggy.PluginManager) -> None:
    with MockServer(chirp_status("9", "Quota"), chirp_ok("0B9"), parcel_accepted("pc-9")) as server:
        document = config(
            a=chirp(f"{server.url}/a"), b=chirp(f"{server.url}/b"), p=parcel(server.url)
        )
        async with norq.Norq.from_dict(document, plugin_manager=pm, environ={}) as app:
            sms = await app.anotify("sms", ANN, body="hello")
            email = await app.anotify("email", "ann@norq.test", body="hi")
            transport = app.executor.transport("http")
            assert getattr(transport, "async_client_name", None) == "AiohttpTransport"
    assert (sms.provider, sms.message_id, sms.attempts) == ("b", "0B9", 2)
    assert email.message_id == "pc-9"
    assert [r.url.removeprefix(server.url) for r in server.requests] == [
        "/a/sms/json",
        "/b/sms/json",
        "/v3/mail/send",
    ]


async def test_async_bulk_on_the_default_transport(pm: pluggy.PluginManager) -> None:
    def answer(request: RecordedRequest) -> norq.Response:
        return chirp_ok(f"id-{dict(request.form())['to']}")

    recipients = [f"+1555123{n:04d}" for n in range(30)]
    with MockServer(handler=answer) as server:
        async with norq.Norq.from_dict(
            config(a=chirp(server.url)), plugin_manager=pm, environ={}
        ) as app:
            receipts = [r async for r in app.anotify_many("sms", recipients, body="hi")]
    assert sorted(r.index for r in receipts if r.ok) == list(range(30))
    assert {r.message_id for r in receipts} == {f"id-{to.lstrip('+')}" for to in recipients}
    assert len(server.requests) == 30


def test_sync_send_on_the_default_httpx_transport(pm: pluggy.PluginManager) -> None:
    with (
        MockServer(parcel_accepted("pc-1")) as server,
        norq.Norq.from_dict(config(p=parcel(server.url)), plugin_manager=pm, environ={}) as app,
    ):
        assert app.notify("email", "ann@norq.test", body="hi").message_id == "pc-1"
    assert server.requests[0].headers["authorization"] == f"Bearer {PARCEL_KEY}"


def test_secrets_stay_out_of_receipts_and_errors(pm: pluggy.PluginManager) -> None:
    mock = MockTransport(chirp_status("4", "Bad Credentials"))
    with app_with(pm, config(a=chirp()), mock) as app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("sms", ANN, body="hello")
    assert CHIRP_SECRET not in str(caught.value.receipt.to_dict())
    assert CHIRP_SECRET not in str(caught.value)
    assert CHIRP_SECRET not in repr(mock.requests[0])
