"""The token source, proven on Web Push: one VAPID token per push service, renewed, never shown."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from norq_webpush import WebPushConfig, WebPushProvider, WebPushTransport

import norq
from norq import dryrun
from norq.executor import Executor
from norq.testing import MockServer, RecordedRequest
from tests_webpush.conftest import (
    SUBJECT,
    Browser,
    created,
    raw_private,
    vapid_claims,
    webpush_app,
)


def token_of(request: RecordedRequest) -> str:
    return request.headers["authorization"].split("t=", 1)[1].split(",", 1)[0]


def test_one_token_per_push_service_across_threads_and_event_loops(
    vapid_key: ec.EllipticCurvePrivateKey,
) -> None:
    app = webpush_app(vapid_key)
    start = threading.Barrier(4)
    with (
        MockServer(handler=lambda r: created()) as first,
        MockServer(handler=lambda r: created()) as second,
    ):
        browsers = [Browser.at(f"{first.url}/s/1"), Browser.at(f"{second.url}/s/2")]

        def sync_sends() -> list[norq.Receipt]:
            start.wait()
            return [app.notify("push", b.subscription, body="sync") for b in browsers * 2]

        def loop_sends() -> list[norq.Receipt]:
            async def many() -> list[norq.Receipt]:
                sends = [app.anotify("push", b.subscription, body="async") for b in browsers * 2]
                return list(await asyncio.gather(*sends))

            start.wait()
            return asyncio.run(many())

        with app, ThreadPoolExecutor(4) as pool:
            jobs = [pool.submit(sync_sends) for _ in range(2)]
            jobs += [pool.submit(loop_sends) for _ in range(2)]
            receipts = [receipt for job in jobs for receipt in job.result()]
    assert [receipt.ok for receipt in receipts] == [True] * 16
    first_tokens = {token_of(r) for r in first.requests}
    second_tokens = {token_of(r) for r in second.requests}
    assert len(first_tokens) == len(second_tokens) == 1
    assert first_tokens != second_tokens
    assert vapid_claims(first.requests[0], vapid_key)["aud"] == first.url
    assert vapid_claims(second.requests[0], vapid_key)["aud"] == second.url


def test_a_refused_token_is_renewed_once(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    now = [1_700_000_000.0]
    refused = norq.Response(401, {}, b'{"message": "Invalid VAPID token"}')
    with MockServer(created(), refused, created(), created()) as server:
        executor = Executor(clock=lambda: now[0], factories={"webpush": WebPushTransport})
        provider = _provider(vapid_key)
        message = norq.Message("push", Browser.at(f"{server.url}/s/1").subscription, "hi")

        def send() -> norq.Outcome:
            return executor.send(provider.prepare_send(message), provider.read_send)

        assert send().ok
        now[0] += 60  # same second would sign the very same token
        renewed = send()
        assert send().ok
        executor.close()
    assert (renewed.ok, renewed.attempts) == (True, 2)
    first, refused_token, renewed_token, again = (token_of(r) for r in server.requests)
    assert first == refused_token != renewed_token == again


def test_a_token_refused_twice_fails_over(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    refused = norq.Response(403, {}, b'{"reason": "BadJwtToken"}')
    with MockServer(refused, refused) as server:
        browser = Browser.at(f"{server.url}/s/1")
        with webpush_app(vapid_key) as app, pytest.raises(norq.DeliveryError) as failed:
            app.notify("push", browser.subscription, body="hi")
    error = failed.value.receipt.error
    assert error is not None
    assert (error.code, error.disposition) == ("permission_denied", "failover")
    assert len(server.requests) == 2


def test_the_token_is_renewed_before_its_twelve_hours_are_out(
    vapid_key: ec.EllipticCurvePrivateKey,
) -> None:
    now = [1_700_000_000.0]
    with MockServer(handler=lambda r: created()) as server:
        executor = Executor(clock=lambda: now[0], factories={"webpush": WebPushTransport})
        provider = _provider(vapid_key)
        message = norq.Message("push", Browser.at(f"{server.url}/s/1").subscription, "hi")
        for step in (0, 6 * 3600, 6 * 3600 - 59):  # the last: within a minute of 12 hours
            now[0] += step
            assert executor.send(provider.prepare_send(message), provider.read_send).ok
        executor.close()
    first, same, renewed = (token_of(r) for r in server.requests)
    assert first == same != renewed
    expiries = [vapid_claims(r, vapid_key, verify_exp=False)["exp"] for r in server.requests]
    assert expiries[0] == 1_700_000_000 + 12 * 3600
    assert expiries[2] - expiries[0] == 12 * 3600 - 59


def test_no_token_or_key_appears_in_any_output(
    vapid_key: ec.EllipticCurvePrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    refused = norq.Response(401, {}, b"")
    gone = norq.Response(410, {}, b"")
    with MockServer(created(), refused, gone) as server:
        browser = Browser.at(f"{server.url}/s/1")
        with webpush_app(vapid_key) as app:
            delivered = app.notify("push", browser.subscription, body="hi")
            with pytest.raises(norq.DeliveryError) as failed:
                app.notify("push", browser.subscription, body="hi")
            prepared = app.prepare("push", browser.subscription, body="hi")
            shown = app.redactor(prepared.request)
            as_json = json.dumps(dryrun.as_dict(prepared.request, app.redactor))
            provider = app.providers["webpush"]
    tokens = {token_of(r) for r in server.requests}
    outputs = [
        json.dumps(delivered.to_dict()),
        json.dumps(failed.value.receipt.to_dict()),
        str(failed.value),
        caplog.text,
        shown,
        as_json,
        repr(prepared.request),
        repr(provider),
        repr(provider.config),
    ]
    for text in outputs:
        for secret in (*tokens, raw_private(vapid_key)):
            assert secret not in text
    assert len(tokens) == 2


def test_a_dry_run_shows_the_plaintext_and_hides_the_token(
    vapid_key: ec.EllipticCurvePrivateKey,
) -> None:
    browser = Browser.at("https://fcm.googleapis.com/fcm/send/abc123")
    with webpush_app(vapid_key) as app:
        prepared = app.prepare("push", browser.subscription, body="Your order shipped", ttl=60)
        shown = app.redactor(prepared.request)
        public_key = app.providers["webpush"].public_key  # type: ignore[attr-defined]
    assert shown.splitlines() == [
        "POST https://fcm.googleapis.com/fcm/send/abc123",
        "TTL: 60",
        "Content-Type: application/octet-stream",
        "Content-Encoding: aes128gcm",
        "Authorization: ***",
        "",
        "Your order shipped",
    ]
    # Unredacted, it shows where the token goes: the one part obtained only when sending.
    assert f"Authorization: vapid t=***, k={public_key}" in dryrun.render(prepared.request, None)


def _provider(key: ec.EllipticCurvePrivateKey) -> WebPushProvider:
    config = WebPushConfig(vapid_private_key=raw_private(key), subject=SUBJECT)
    return WebPushProvider(config)
