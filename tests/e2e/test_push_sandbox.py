"""Push end to end: norq-fcm, norq-apns and norq-webpush against the sandbox's push services.

The sandbox checks what a real push service checks (FCM's OAuth2 token
exchange and bearer tokens, APNs' ES256 provider tokens, Web Push's VAPID
tokens and aes128gcm payloads, which it decrypts) with keys it made itself,
and puts what it accepted in the inbox. These tests hold the plugins and the
executor's token handling to it over real loopback sockets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from norq_sandbox import SandboxServer

import norq
from norq import dryrun

pytestmark = pytest.mark.e2e

DEVICE = "a1" * 32  # an APNs device token: 64 hex digits
FCM_TOKEN = "fcm-registration-token-" + "x" * 40
# A VAPID private key is the application server's own (base64url of 32 bytes).
VAPID_KEY = "hB3LXcBJqR6B3yR2z0sQuDgyDhoO8iSkqYV1VQF1Ahs"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


def fcm_entry(sandbox: SandboxServer) -> dict[str, Any]:
    account = json.dumps(sandbox.fcm_service_account())
    return {"type": "fcm", "config": {"service_account": account, "base_url": sandbox.url}}


def apns_entry(sandbox: SandboxServer) -> dict[str, Any]:
    key, key_id, team_id = sandbox.apns_signing_key()
    config = {
        "key": key,
        "key_id": key_id,
        "team_id": team_id,
        "topic": "com.example.shop",
        "base_url": sandbox.url,
    }
    return {"type": "apns", "config": config}


def webpush_entry(sandbox: SandboxServer) -> dict[str, Any]:
    config = {"vapid_private_key": VAPID_KEY, "subject": "mailto:ops@example.com"}
    return {"type": "webpush", "config": config}


def smtp_entry(sandbox: SandboxServer) -> dict[str, Any]:
    config = {
        "host": sandbox.smtp_host,
        "port": sandbox.smtp_port,
        "security": "none",
        "sender": "shop@example.com",
        "helo_name": "norq.test",
    }
    return {"type": "smtp", "config": config, "retry": {"max_retries": 0}}


ENTRIES = {"fcm": fcm_entry, "apns": apns_entry, "webpush": webpush_entry}


def push_app(sandbox: SandboxServer, kind: str, **extra: Any) -> norq.Norq:
    document: dict[str, Any] = {
        "providers": {kind: ENTRIES[kind](sandbox), "smtp": smtp_entry(sandbox)},
        "routing": {"push": kind, "email": "smtp"},
        **extra,
    }
    return norq.Norq.from_dict(document, environ={})


def gone_address(sandbox: SandboxServer, kind: str) -> str:
    """An address the sandbox's push service answers as unregistered."""
    if kind == "fcm":
        return "unregistered-" + "y" * 40
    if kind == "apns":
        return "deadbeef" + "00" * 28
    subscription = sandbox.webpush_subscription()
    sandbox.unregister_push(subscription["endpoint"].rsplit("/", 1)[1])
    return json.dumps(subscription)


def live_address(sandbox: SandboxServer, kind: str) -> str:
    if kind == "fcm":
        return FCM_TOKEN
    if kind == "apns":
        return DEVICE
    return json.dumps(sandbox.webpush_subscription())


ORDER_SHIPPED = {
    "templates": {
        "order_shipped": {
            "push": {"body": "Order {{ order }} is on its way", "title": "Shipped"},
            "email": {"subject": "Order {{ order }} shipped", "body": "It is on its way."},
        }
    },
    "notifications": {"order_shipped": {"channels": ["push", "email"], "strategy": "first"}},
}


@pytest.mark.parametrize("kind", ["fcm", "apns", "webpush"])
def test_a_push_to_an_unregistered_device_fails_final_and_falls_to_email(
    sandbox: SandboxServer, kind: str
) -> None:
    contact = norq.Contact(push=gone_address(sandbox, kind), email="ada@example.com")
    with push_app(sandbox, kind, **ORDER_SHIPPED) as app:
        push, email = app.notify(notification="order_shipped", to=contact, data={"order": "A-1"})
    assert push.channel == "push"
    assert not push.ok
    assert push.error is not None
    assert push.error.disposition == "final"
    assert push.error.code == "recipient_unreachable"
    assert email.channel == "email"
    assert email.ok
    (mail,) = sandbox.outbox("smtp")
    assert mail.to == ("ada@example.com",)
    assert mail.subject == "Order A-1 shipped"
    assert sandbox.outbox(kind) == []


@pytest.mark.parametrize("kind", ["fcm", "apns", "webpush"])
def test_a_push_reaches_the_inbox_as_a_phone_shows_it(sandbox: SandboxServer, kind: str) -> None:
    with push_app(sandbox, kind) as app:
        receipt = app.notify(
            channel="push", to=live_address(sandbox, kind), body="Your order shipped", title="Shop"
        )
    assert receipt.ok, receipt.error
    (shown,) = sandbox.outbox(kind)
    assert shown.channel == "push"
    assert shown.subject == "Shop"
    assert shown.text == "Your order shipped"
    assert receipt.message_id
    assert receipt.message_id in (shown.provider_id, shown.id)


def test_a_data_only_fcm_push_is_shown_as_data(sandbox: SandboxServer) -> None:
    with push_app(sandbox, "fcm") as app:
        receipt = app.notify(channel="push", to=FCM_TOKEN, app_data={"order": "A-1"})
    assert receipt.ok
    (shown,) = sandbox.outbox("fcm")
    assert shown.text is None
    assert shown.details["data"] == {"order": "A-1"}
    assert shown.inbox_view()["details"]["data"] == {"order": "A-1"}


# -- the token source, proven against the sandbox's token checks -----------------------


def token_requests(sandbox: SandboxServer) -> int:
    return len(sandbox.requests("POST", "/token"))


def send_from_threads_and_loops(app: norq.Norq, to: str, each: int = 3) -> list[norq.Receipt]:
    receipts: list[norq.Receipt] = []
    lock = threading.Lock()

    def in_a_thread() -> None:
        for _ in range(each):
            receipt = app.notify(channel="push", to=to, body="hello")
            with lock:
                receipts.append(receipt)

    def on_a_loop() -> None:
        async def sends() -> list[norq.Receipt]:
            return list(
                await asyncio.gather(
                    *(app.anotify(channel="push", to=to, body="hello") for _ in range(each))
                )
            )

        found = asyncio.run(sends())
        with lock:
            receipts.extend(found)

    workers = [threading.Thread(target=in_a_thread) for _ in range(3)]
    workers += [threading.Thread(target=on_a_loop) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return receipts


def test_one_fcm_token_exchange_serves_sends_from_threads_and_event_loops(
    sandbox: SandboxServer,
) -> None:
    with push_app(sandbox, "fcm") as app:
        receipts = send_from_threads_and_loops(app, FCM_TOKEN)
        app.notify(channel="push", to=FCM_TOKEN, body="and one more")
    assert len(receipts) == 18
    assert all(receipt.ok for receipt in receipts)
    assert token_requests(sandbox) == 1
    assert len(sandbox.outbox("fcm")) == 19


def test_one_apns_provider_token_serves_sends_from_threads_and_event_loops(
    sandbox: SandboxServer,
) -> None:
    with push_app(sandbox, "apns") as app:
        receipts = send_from_threads_and_loops(app, DEVICE)
    assert len(receipts) == 18
    assert all(receipt.ok for receipt in receipts)
    assert len(sandbox.state.push.provider_tokens) == 1


@pytest.mark.parametrize("kind", ["fcm", "apns"])
def test_an_expired_token_is_renewed_once_and_the_send_goes_through(
    sandbox: SandboxServer, kind: str
) -> None:
    to = live_address(sandbox, kind)
    with push_app(sandbox, kind) as app:
        assert app.notify(channel="push", to=to, body="first").ok
        sandbox.expire_push_tokens()
        receipt = app.notify(channel="push", to=to, body="second")
        assert app.notify(channel="push", to=to, body="third").ok
    assert receipt.ok
    assert receipt.attempts == 2  # the refused one, then the one with a new token
    sends = sandbox.requests_to(kind)
    refused = [r for r in sends if r.status in (401, 403)]
    assert len(refused) == 1  # refused once, renewed once, never again
    if kind == "fcm":
        assert token_requests(sandbox) == 2
    else:
        assert len(sandbox.state.push.provider_tokens) == 2
    assert len(sandbox.outbox(kind)) == 3


@pytest.mark.parametrize("kind", ["fcm", "apns", "webpush"])
def test_no_token_reaches_a_receipt_a_log_or_a_dry_run(
    sandbox: SandboxServer, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    to = live_address(sandbox, kind)
    caplog.set_level(logging.DEBUG)
    with push_app(sandbox, kind) as app:
        receipt = app.notify(channel="push", to=to, body="hello")
        sandbox.expire_push_tokens()
        again = app.notify(channel="push", to=to, body="hello again")
        prepared = app.prepare("push", to, body="hello")
        shown = "\n".join(
            [
                app.redactor(prepared.request),
                json.dumps(dryrun.as_dict(prepared.request, app.redactor)),
                repr(prepared),
                json.dumps(receipt.to_dict()),
                repr(again),
            ]
        )
    assert receipt.ok
    assert again.ok
    tokens = set(sandbox.state.push.access_tokens) | sandbox.state.push.provider_tokens
    if kind == "fcm":
        assert tokens
    outputs = shown + caplog.text + json.dumps([r.to_dict() for r in sandbox.requests_to(kind)])
    for token in tokens:
        assert token not in outputs
    for part in ("eyJ", "ya29."):  # a JWT's header, a Google access token
        assert part not in outputs


@pytest.mark.parametrize("kind", ["fcm", "apns"])
def test_a_dry_run_shows_the_request_with_the_token_redacted(
    sandbox: SandboxServer, kind: str
) -> None:
    with push_app(sandbox, kind) as app:
        prepared = app.prepare("push", live_address(sandbox, kind), body="hello")
        shown = app.redactor(prepared.request)
    assert "Authorization: ***" in shown
    assert sandbox.requests_to(kind) == []
