"""Status callbacks from the sandbox into Norq's Twilio webhook app, both on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from norq_sandbox import DEFAULT_AUTH_TOKEN, SandboxServer

import norq
from norq import MessageStatus, Norq
from norq.plugins import get_plugin_manager
from norq.providers.twilio.signature import compute_signature
from norq.providers.twilio.webhooks import create_webhook_app
from tests.e2e.conftest import RECIPIENT, AsgiServer, LateApp, twilio_provider

pytestmark = pytest.mark.e2e


class StatusRecorder:
    """A plugin recording every delivery status the webhook app reports."""

    def __init__(self) -> None:
        self.statuses: list[MessageStatus] = []
        self._changed = threading.Condition()

    @norq.hookimpl
    def delivery_status(self, status: MessageStatus, provider: str) -> None:
        with self._changed:
            self.statuses.append(status)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[MessageStatus]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.statuses) >= count, timeout):
                raise TimeoutError(f"{len(self.statuses)} statuses after {timeout}s, not {count}")
            return list(self.statuses)


@pytest.fixture
def recorder() -> StatusRecorder:
    return StatusRecorder()


def norq_with_hooks(
    sandbox: SandboxServer, recorder: StatusRecorder, hooks_url: str, signing_token: str
) -> Norq:
    pm = get_plugin_manager()
    pm.register(recorder, name="status-recorder")
    return Norq.from_dict(
        {
            "providers": {
                "twilio": twilio_provider(
                    sandbox.url,
                    status_callback=f"{hooks_url}/status",
                    webhook_auth_token=signing_token,
                )
            },
            "routing": {"sms": "twilio"},
        },
        environ={},
        plugin_manager=pm,
    )


@pytest.fixture
def hooks(recorder: StatusRecorder, sandbox: SandboxServer) -> Iterator[tuple[Norq, AsgiServer]]:
    """A Norq sending through the sandbox, with its webhook app served on loopback.

    The callback URL needs the server's port, so the app is served first and
    the Norq whose config names that URL is built second; the webhook app
    reads the signing token from that same Norq.
    """
    webhook = LateApp()
    with AsgiServer(webhook) as server:
        app = norq_with_hooks(sandbox, recorder, server.url, DEFAULT_AUTH_TOKEN)
        webhook.app = create_webhook_app(app)
        try:
            yield app, server
        finally:
            app.close()


def test_each_status_reaches_the_webhook_app_signed_and_verified(
    hooks: tuple[Norq, AsgiServer], sandbox: SandboxServer, recorder: StatusRecorder
) -> None:
    app, _ = hooks

    receipt = app.notify("sms", RECIPIENT, body="hello")
    statuses = recorder.wait_for(4)

    assert [s.status for s in statuses] == ["queued", "sending", "sent", "delivered"]
    assert {s.message_id for s in statuses} == {receipt.message_id}
    assert receipt.message_id is not None
    message = sandbox.wait_for_status(receipt.message_id, "delivered")
    deadline = time.monotonic() + 5
    while message.timeline[-1].callback is None and time.monotonic() < deadline:
        time.sleep(0.01)
        message = sandbox.message(receipt.message_id) or message
    assert [step.callback for step in message.timeline] == ["200"] * 4


def test_an_undelivered_status_carries_its_error_code(
    hooks: tuple[Norq, AsgiServer], recorder: StatusRecorder
) -> None:
    app, _ = hooks

    app.notify("sms", "+15005550010", body="hello")
    final = recorder.wait_for(4)[-1]

    assert (final.status, final.error_code) == ("undelivered", "30003")


def test_a_forged_callback_is_rejected_and_reaches_no_hook(
    hooks: tuple[Norq, AsgiServer], recorder: StatusRecorder
) -> None:
    _, server = hooks
    url = f"{server.url}/status"
    params = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered", "To": RECIPIENT}

    forged = httpx.post(
        url, data=params, headers={"X-Twilio-Signature": compute_signature("guess", url, params)}
    )
    unsigned = httpx.post(url, data=params)

    assert (forged.status_code, unsigned.status_code) == (403, 403)
    assert recorder.statuses == []


def test_a_tampered_callback_is_rejected(
    hooks: tuple[Norq, AsgiServer], recorder: StatusRecorder
) -> None:
    _, server = hooks
    url = f"{server.url}/status"
    params = {"MessageSid": "SM" + "e" * 32, "MessageStatus": "sent", "To": RECIPIENT}
    signature = compute_signature(DEFAULT_AUTH_TOKEN, url, params)

    genuine = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})
    tampered = httpx.post(
        url,
        data={**params, "MessageStatus": "delivered"},
        headers={"X-Twilio-Signature": signature},
    )

    assert (genuine.status_code, tampered.status_code) == (200, 403)
    assert [s.status for s in recorder.statuses] == ["sent"]


def test_callbacks_signed_with_another_token_are_refused(
    sandbox: SandboxServer, recorder: StatusRecorder
) -> None:
    webhook = LateApp()
    with AsgiServer(webhook) as server:
        app = norq_with_hooks(sandbox, recorder, server.url, "not-the-sandbox-token")
        webhook.app = create_webhook_app(app)
        with app:
            receipt = app.notify("sms", RECIPIENT, body="hello")
            assert receipt.message_id is not None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                message = sandbox.message(receipt.message_id)
                if message and len(message.timeline) == 4 and message.timeline[-1].callback:
                    break
                time.sleep(0.01)

    assert message is not None
    assert [step.callback for step in message.timeline] == ["403"] * 4
    assert recorder.statuses == []
