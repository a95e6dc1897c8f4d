"""The token source, proven on APNs: an ES256 provider token, minted once, renewed, never shown."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from norq_apns import ApnsConfig, ApnsProvider

import norq
from norq import dryrun
from norq.executor import Executor
from norq.testing import MockTransport
from tests_apns.conftest import DEVICE, KEY_ID, TEAM_ID, TOPIC, Apple, apns_app, p8


def test_the_token_is_an_es256_jwt_naming_the_key_and_the_team(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    apple = Apple(ec_key)
    with apns_app(ec_key, MockTransport(handler=apple)) as app:
        app.notify("push", DEVICE, body="hi")
    (token,) = apple.tokens
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KEY_ID, "typ": "JWT"}
    claims = jwt.decode(token, ec_key.public_key(), algorithms=["ES256"])
    assert set(claims) == {"iss", "iat"}
    assert claims["iss"] == TEAM_ID


def test_one_token_serves_many_sends_across_threads_and_event_loops(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    apple = Apple(ec_key)
    app = apns_app(ec_key, MockTransport(handler=apple))
    start = threading.Barrier(4)

    def sync_sends() -> list[norq.Receipt]:
        start.wait()
        return [app.notify("push", DEVICE, body=f"sync {i}") for i in range(3)]

    def loop_sends() -> list[norq.Receipt]:
        async def many() -> list[norq.Receipt]:
            sends = [app.anotify("push", DEVICE, body=f"async {i}") for i in range(3)]
            return list(await asyncio.gather(*sends))

        start.wait()
        return asyncio.run(many())

    with app, ThreadPoolExecutor(4) as pool:
        jobs = [pool.submit(sync_sends) for _ in range(2)] + [
            pool.submit(loop_sends) for _ in range(2)
        ]
        receipts = [receipt for job in jobs for receipt in job.result()]
    assert [receipt.ok for receipt in receipts] == [True] * 12
    assert len(set(apple.tokens)) == 1


def test_a_stale_token_is_renewed_once(ec_key: ec.EllipticCurvePrivateKey) -> None:
    apple = Apple(ec_key)
    with apns_app(ec_key, MockTransport(handler=apple)) as app:
        app.notify("push", DEVICE, body="one")
        apple.stale.add(apple.tokens[0])
        receipt = app.notify("push", DEVICE, body="two")
        app.notify("push", DEVICE, body="three")
    assert (receipt.ok, receipt.attempts) == (True, 2)
    first, refused, renewed, again = apple.tokens
    assert first == refused != renewed == again


def test_an_invalid_token_is_not_renewed_in_a_loop(ec_key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    apple = Apple(other)  # APNs knows another key
    mock = MockTransport(handler=apple)
    app = apns_app(ec_key, mock)
    with app, pytest.raises(norq.DeliveryError) as failed:
        app.notify("push", DEVICE, body="hi")
    error = failed.value.receipt.error
    assert error is not None
    assert (error.provider_code, error.code, error.disposition) == (
        "InvalidProviderToken",
        "invalid_credentials",
        "failover",
    )
    assert len(mock.requests) == 1


def test_the_token_is_renewed_before_the_hour_is_out(ec_key: ec.EllipticCurvePrivateKey) -> None:
    now = [1_700_000_000.0]
    apple = Apple(ec_key)
    executor = Executor(transports={"http2": MockTransport(handler=apple)}, clock=lambda: now[0])
    config = ApnsConfig(key=p8(ec_key), key_id=KEY_ID, team_id=TEAM_ID, topic=TOPIC)
    provider = ApnsProvider(config)
    message = norq.Message("push", DEVICE, "hi")

    def send() -> None:
        assert executor.send(provider.prepare_send(message), provider.read_send).ok

    send()
    now[0] += 20 * 60
    send()
    now[0] += 29 * 60 + 1  # 49 minutes on: within a minute of the token's 50
    send()
    first, same, renewed = apple.tokens
    assert first == same != renewed
    issued = [jwt.decode(t, ec_key.public_key(), algorithms=["ES256"])["iat"] for t in apple.tokens]
    assert issued[2] - issued[0] == 49 * 60 + 1


def test_no_token_or_key_appears_in_any_output(
    ec_key: ec.EllipticCurvePrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    apple = Apple(ec_key)
    with apns_app(ec_key, MockTransport(handler=apple)) as app:
        delivered = app.notify("push", DEVICE, body="hi")
        apple.stale.add(apple.tokens[0])
        apple.answers.append(norq.Response(400, {}, b'{"reason": "BadDeviceToken"}'))
        with pytest.raises(norq.DeliveryError) as failed:
            app.notify("push", DEVICE, body="hi")
        prepared = app.prepare("push", DEVICE, body="hi")
        shown = app.redactor(prepared.request)
        as_json = json.dumps(dryrun.as_dict(prepared.request, app.redactor))
    outputs = [
        json.dumps(delivered.to_dict()),
        json.dumps(failed.value.receipt.to_dict()),
        str(failed.value),
        caplog.text,
        shown,
        as_json,
        repr(prepared.request),
        repr(app.providers["apns"]),
    ]
    key_line = p8(ec_key).splitlines()[1]
    for text in outputs:
        for secret in (*apple.tokens, key_line):
            assert secret not in text
    assert "Authorization: ***" in shown
    assert "apns-topic: com.example.shop" in shown
    assert "Authorization: Bearer ***" in dryrun.render(prepared.request, None)
