"""The token source, proven on FCM: Google's JWT bearer exchange, once, renewed, never shown."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import norq
from norq import dryrun
from norq.testing import MockServer
from tests_fcm.conftest import CLIENT_EMAIL, KEY_ID, TOKEN, Google, fcm_app, private_key_pem


def test_the_exchange_is_googles_jwt_bearer_grant(
    rsa_key: rsa.RSAPrivateKey, google: tuple[Google, MockServer]
) -> None:
    api, server = google
    with fcm_app(rsa_key, server) as app:
        app.notify("push", TOKEN, body="hi")
    exchange = server.requests[0]
    assert exchange.method == "POST"
    assert exchange.url == f"{server.url}/token"
    assert exchange.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(exchange.form())
    assert set(form) == {"grant_type", "assertion"}
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header = jwt.get_unverified_header(form["assertion"])
    assert header == {"alg": "RS256", "kid": KEY_ID, "typ": "JWT"}
    claims = jwt.decode(
        form["assertion"], rsa_key.public_key(), algorithms=["RS256"], audience=api.token_url
    )
    assert claims["iss"] == CLIENT_EMAIL
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert claims["exp"] - claims["iat"] == 3600
    assert api.sent[0]["token"] == "ya29.test-access-token-1"


def test_one_exchange_serves_many_sends_across_threads_and_event_loops(
    rsa_key: rsa.RSAPrivateKey, google: tuple[Google, MockServer]
) -> None:
    api, server = google
    app = fcm_app(rsa_key, server)
    start = threading.Barrier(6)

    def sync_sends() -> list[norq.Receipt]:
        start.wait()
        return [app.notify("push", TOKEN, body=f"sync {i}") for i in range(3)]

    def loop_sends() -> list[norq.Receipt]:
        async def many() -> list[norq.Receipt]:
            sends = [app.anotify("push", TOKEN, body=f"async {i}") for i in range(3)]
            return list(await asyncio.gather(*sends))

        start.wait()
        return asyncio.run(many())  # each thread its own event loop, on aiohttp

    with app, ThreadPoolExecutor(6) as pool:
        jobs = [pool.submit(sync_sends) for _ in range(3)] + [
            pool.submit(loop_sends) for _ in range(3)
        ]
        receipts = [receipt for job in jobs for receipt in job.result()]
    assert [receipt.ok for receipt in receipts] == [True] * 18
    assert api.issued == ["ya29.test-access-token-1"]
    assert len(api.sent) == 18


def test_a_revoked_token_is_renewed_once_on_401(
    rsa_key: rsa.RSAPrivateKey, google: tuple[Google, MockServer]
) -> None:
    api, server = google
    with fcm_app(rsa_key, server) as app:
        app.notify("push", TOKEN, body="one")
        api.revoked.add(api.issued[0])
        receipt = app.notify("push", TOKEN, body="two")
    assert (receipt.ok, receipt.attempts) == (True, 2)
    assert len(api.issued) == 2
    assert [sent["token"] for sent in api.sent] == api.issued


async def test_a_token_refused_twice_fails_over_on_aiohttp(
    rsa_key: rsa.RSAPrivateKey, google: tuple[Google, MockServer]
) -> None:
    api, server = google
    api.revoked = {f"ya29.test-access-token-{n}" for n in (1, 2, 3)}
    async with fcm_app(rsa_key, server) as app:
        with pytest.raises(norq.DeliveryError) as failed:
            await app.anotify("push", TOKEN, body="hi")
    error = failed.value.receipt.error
    assert error is not None
    assert (error.code, error.disposition, error.provider_code) == (
        "invalid_credentials",
        "failover",
        "UNAUTHENTICATED",
    )
    assert len(api.issued) == 2, "renewed once, not in a loop"


def test_a_refused_key_fails_over_before_anything_is_sent(
    rsa_key: rsa.RSAPrivateKey, google: tuple[Google, MockServer]
) -> None:
    api, server = google
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    api.public_key = other.public_key()  # Google no longer knows this key
    with fcm_app(rsa_key, server) as app, pytest.raises(norq.DeliveryError) as failed:
        app.notify("push", TOKEN, body="hi")
    error = failed.value.receipt.error
    assert error is not None
    assert (error.code, error.disposition, error.provider_code) == (
        "invalid_credentials",
        "failover",
        "invalid_grant",
    )
    assert error.message.startswith(f"could not obtain an access token from {server.url}/token")
    assert api.sent == []


def test_no_token_or_key_appears_in_any_output(
    rsa_key: rsa.RSAPrivateKey,
    google: tuple[Google, MockServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    api, server = google
    caplog.set_level(logging.DEBUG)
    with fcm_app(rsa_key, server) as app:
        delivered = app.notify("push", TOKEN, body="hi")
        api.revoked = set(api.issued) | {"ya29.test-access-token-2"}
        with pytest.raises(norq.DeliveryError) as failed:
            app.notify("push", TOKEN, body="hi")
        prepared = app.prepare("push", TOKEN, body="hi")
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
        repr(app.providers["fcm"]),
    ]
    key_line = private_key_pem(rsa_key).splitlines()[1]
    for text in outputs:
        for secret in (*api.issued, key_line):
            assert secret not in text
    assert "Authorization: ***" in shown
    assert '"Authorization": "***"' in as_json
    assert "Authorization: Bearer ***" in dryrun.render(prepared.request, None)
