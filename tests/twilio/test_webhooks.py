"""The webhook app end to end: signatures, de-duplication, hooks, TwiML."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pluggy
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import norq
from norq.plugins import get_plugin_manager
from norq.providers.twilio.signature import compute_signature
from norq.providers.twilio.webhooks import EMPTY_TWIML, create_webhook_app
from tests.twilio.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGE_SID,
    RECIPIENT,
    SENDER,
    WEBHOOK_TOKEN,
    document,
)

with warnings.catch_warnings():
    # Starlette 1.x suggests httpx2 for its test client; httpx works the same here.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

BASE = "http://testserver"
STATUS_FIELDS = {
    "AccountSid": ACCOUNT_SID,
    "MessageSid": MESSAGE_SID,
    "SmsSid": MESSAGE_SID,
    "MessageStatus": "undelivered",
    "SmsStatus": "undelivered",
    "ErrorCode": "30003",
    "To": RECIPIENT,
    "From": SENDER,
    "ApiVersion": "2010-04-01",
}
INBOUND_FIELDS = {
    "AccountSid": ACCOUNT_SID,
    "MessageSid": "SM" + "9" * 32,
    "From": RECIPIENT,
    "To": SENDER,
    "Body": "STOP please",
    "NumMedia": "2",
    "MediaUrl0": "https://api.twilio.com/media/ME1",
    "MediaContentType0": "image/png",
    "MediaUrl1": "https://api.twilio.com/media/ME2",
    "MediaContentType1": "image/jpeg",
    "NumSegments": "1",
}


class Recorder:
    """A plugin that records what the webhook hooks receive."""

    def __init__(self) -> None:
        self.statuses: list[tuple[norq.MessageStatus, str]] = []
        self.inbound: list[tuple[norq.InboundMessage, str]] = []
        self.fail = False

    @norq.hookimpl
    def delivery_status(self, status: norq.MessageStatus, provider: str) -> None:
        if self.fail:
            raise RuntimeError("database down")
        self.statuses.append((status, provider))

    @norq.hookimpl
    def inbound_message(self, message: norq.InboundMessage, provider: str) -> None:
        self.inbound.append((message, provider))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def plugin_manager(recorder: Recorder) -> Iterator[pluggy.PluginManager]:
    pm = get_plugin_manager(load_entry_points=False)
    pm.register(recorder, name="recorder")
    try:
        yield pm
    finally:
        pm.unregister(recorder)


@pytest.fixture
def app_norq(plugin_manager: pluggy.PluginManager) -> norq.Norq:
    return norq.Norq.from_dict(
        document(webhook_auth_token=WEBHOOK_TOKEN), environ={}, plugin_manager=plugin_manager
    )


@pytest.fixture
def client(app_norq: norq.Norq) -> TestClient:
    return TestClient(create_webhook_app(app_norq))


def signed_post(
    client: TestClient,
    path: str,
    fields: dict[str, str] | list[tuple[str, str]],
    *,
    token: str = WEBHOOK_TOKEN,
    url: str | None = None,
    headers: dict[str, str] | None = None,
    signed: dict[str, str] | list[tuple[str, str]] | None = None,
    algorithm: str = "HMAC_SHA1",
) -> Any:
    """POST ``fields``, signed as Twilio would sign ``signed`` (by default ``fields``)."""
    to_sign = fields if signed is None else signed
    signature = compute_signature(token, url or BASE + path, to_sign, algorithm=algorithm)
    return client.post(
        path,
        content=urlencode(fields),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
            **(headers or {}),
        },
    )


def test_signed_status_callback_reaches_the_hook(client: TestClient, recorder: Recorder) -> None:
    response = signed_post(client, "/status", STATUS_FIELDS)
    assert response.status_code == 200
    assert response.text == EMPTY_TWIML
    assert response.headers["content-type"].startswith("text/xml")
    [(status, provider)] = recorder.statuses
    assert provider == "twilio"
    assert (status.message_id, status.status, status.provider_status, status.error_code) == (
        MESSAGE_SID,
        "undelivered",
        "undelivered",
        "30003",
    )
    assert (status.to, status.sender) == (RECIPIENT, SENDER)


def test_signed_inbound_message_reaches_the_hook(client: TestClient, recorder: Recorder) -> None:
    response = signed_post(client, "/inbound", INBOUND_FIELDS)
    assert (response.status_code, response.text) == (200, EMPTY_TWIML)
    [(message, provider)] = recorder.inbound
    assert provider == "twilio"
    assert (message.message_id, message.sender, message.to, message.body) == (
        "SM" + "9" * 32,
        RECIPIENT,
        SENDER,
        "STOP please",
    )
    assert message.media_urls == (
        "https://api.twilio.com/media/ME1",
        "https://api.twilio.com/media/ME2",
    )
    assert message.raw["MediaContentType0"] == "image/png"


def test_unsigned_request_is_refused(client: TestClient, recorder: Recorder) -> None:
    response = client.post("/status", data=STATUS_FIELDS)
    assert response.status_code == 403
    assert recorder.statuses == []


def test_request_signed_with_another_token_is_refused(
    client: TestClient, recorder: Recorder
) -> None:
    response = signed_post(client, "/status", STATUS_FIELDS, token="not-the-token")
    assert response.status_code == 403
    assert recorder.statuses == []


def test_tampered_parameter_is_refused(client: TestClient, recorder: Recorder) -> None:
    signature = compute_signature(WEBHOOK_TOKEN, BASE + "/status", STATUS_FIELDS)
    forged = {**STATUS_FIELDS, "MessageStatus": "delivered"}
    response = client.post(
        "/status",
        content=urlencode(forged),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    assert response.status_code == 403
    assert recorder.statuses == []


def test_signature_for_another_url_is_refused(client: TestClient, recorder: Recorder) -> None:
    response = signed_post(client, "/status", STATUS_FIELDS, url=BASE + "/inbound")
    assert response.status_code == 403
    assert recorder.statuses == []


def test_query_string_is_part_of_the_signed_url(client: TestClient, recorder: Recorder) -> None:
    path = "/status?tenant=42"
    assert signed_post(client, path, STATUS_FIELDS).status_code == 200
    forged = signed_post(client, "/status?tenant=43", STATUS_FIELDS, url=BASE + path)
    assert forged.status_code == 403
    assert len(recorder.statuses) == 1


def test_retried_delivery_is_processed_once(client: TestClient, recorder: Recorder) -> None:
    headers = {"I-Twilio-Idempotency-Token": "idem-1"}
    first = signed_post(client, "/status", STATUS_FIELDS, headers=headers)
    again = signed_post(client, "/status", STATUS_FIELDS, headers=headers)
    other_token = {"I-Twilio-Idempotency-Token": "idem-2"}
    other = signed_post(client, "/status", STATUS_FIELDS, headers=other_token)
    assert [first.status_code, again.status_code, other.status_code] == [200, 200, 200]
    assert again.text == EMPTY_TWIML
    assert len(recorder.statuses) == 2


def test_a_failing_hook_answers_500_and_the_retry_is_processed(
    client: TestClient, recorder: Recorder
) -> None:
    headers = {"I-Twilio-Idempotency-Token": "idem-7"}
    recorder.fail = True
    assert signed_post(client, "/status", STATUS_FIELDS, headers=headers).status_code == 500
    recorder.fail = False
    assert signed_post(client, "/status", STATUS_FIELDS, headers=headers).status_code == 200
    assert len(recorder.statuses) == 1


def test_signed_but_incomplete_callback_is_a_400(client: TestClient, recorder: Recorder) -> None:
    fields = {k: v for k, v in STATUS_FIELDS.items() if k not in ("MessageStatus", "SmsStatus")}
    response = signed_post(client, "/status", fields)
    assert response.status_code == 400
    assert "MessageStatus" in response.text
    assert recorder.statuses == []


def test_json_body_is_verified_with_body_sha256(client: TestClient, recorder: Recorder) -> None:
    body = json.dumps(STATUS_FIELDS).encode()
    path = f"/status?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = compute_signature(WEBHOOK_TOKEN, BASE + path)
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": signature}
    assert client.post(path, content=body, headers=headers).status_code == 200
    tampered = body.replace(b"undelivered", b"delivered")
    assert client.post(path, content=tampered, headers=headers).status_code == 403
    assert len(recorder.statuses) == 1


def test_oversized_body_is_refused(client: TestClient) -> None:
    response = client.post("/status", content=b"x" * (64 * 1024 + 1))
    assert response.status_code == 413


class StreamedBody:
    """An ASGI ``receive`` that hands out a body chunk by chunk and counts what was taken."""

    def __init__(self, chunk: bytes, chunks: int) -> None:
        self.chunk = chunk
        self.left = chunks
        self.taken = 0

    async def __call__(self) -> dict[str, Any]:
        if self.left == 0:
            return {"type": "http.disconnect"}
        self.left -= 1
        self.taken += 1
        return {"type": "http.request", "body": self.chunk, "more_body": self.left > 0}


async def call_asgi(
    app: Starlette, receive: StreamedBody, headers: list[tuple[bytes, bytes]]
) -> int:
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "server": ("testserver", 80),
        "path": "/status",
        "raw_path": b"/status",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
    }
    await app(scope, receive, send)
    [status] = statuses
    return status


async def test_a_streamed_oversized_body_is_refused_without_reading_it_all(
    app_norq: norq.Norq,
) -> None:
    # 400 MB announced by nothing but the stream itself (chunked, no Content-Length).
    megabyte = b"x" * (1024 * 1024)
    body = StreamedBody(megabyte, chunks=400)
    assert await call_asgi(create_webhook_app(app_norq), body, []) == 413
    assert body.taken == 1  # one 1 MB chunk is already past the 64 KB limit


async def test_small_chunks_are_read_only_up_to_the_limit(app_norq: norq.Norq) -> None:
    body = StreamedBody(b"x" * 1024, chunks=10_000)
    assert await call_asgi(create_webhook_app(app_norq), body, []) == 413
    assert body.taken == 65  # 64 KB fit; the 65th kilobyte crosses the limit


async def test_an_oversized_content_length_is_refused_before_reading(
    app_norq: norq.Norq,
) -> None:
    body = StreamedBody(b"x" * 1024, chunks=400 * 1024)
    headers = [(b"content-length", str(400 * 1024 * 1024).encode())]
    assert await call_asgi(create_webhook_app(app_norq), body, headers) == 413
    assert body.taken == 0


@pytest.mark.parametrize("value", [b"lots", b"-1", b"1e6"])
async def test_a_malformed_content_length_is_a_400(app_norq: norq.Norq, value: bytes) -> None:
    body = StreamedBody(b"x", chunks=1)
    assert await call_asgi(create_webhook_app(app_norq), body, [(b"content-length", value)]) == 400
    assert body.taken == 0


def test_only_post_is_allowed(client: TestClient) -> None:
    assert client.get("/status").status_code == 405


def test_mounted_behind_a_proxy_checks_the_public_url(
    app_norq: norq.Norq, recorder: Recorder
) -> None:
    public = "https://hooks.example.com/twilio"
    outer = Starlette(
        routes=[Mount("/twilio", create_webhook_app(app_norq, public_url=public + "/"))]
    )
    client = TestClient(outer)
    ok = signed_post(client, "/twilio/status", STATUS_FIELDS, url=public + "/status")
    assert ok.status_code == 200
    internal = signed_post(client, "/twilio/status", STATUS_FIELDS)  # signed for testserver
    assert internal.status_code == 403
    assert len(recorder.statuses) == 1


def test_public_url_from_the_yaml_is_used_for_signatures(
    plugin_manager: pluggy.PluginManager, recorder: Recorder
) -> None:
    public = "https://hooks.example.com:8443/twilio"
    app = norq.Norq.from_dict(
        {**document(webhook_auth_token=WEBHOOK_TOKEN), "webhooks": {"public_url": public}},
        environ={},
        plugin_manager=plugin_manager,
    )
    client = TestClient(Starlette(routes=[Mount("/twilio", create_webhook_app(app))]))
    path = "/twilio/status?tenant=4"
    assert (
        signed_post(client, path, STATUS_FIELDS, url=public + "/status?tenant=4").status_code == 200
    )
    assert signed_post(client, path, STATUS_FIELDS).status_code == 403  # signed for testserver
    # A proxy that forwards the public host only in X-Forwarded-Host changes nothing:
    # the app is told its public URL, it does not trust request headers for it.
    forwarded = {"X-Forwarded-Host": "evil.example.com", "X-Forwarded-Proto": "http"}
    assert (
        signed_post(
            client, path, STATUS_FIELDS, url=public + "/status?tenant=4", headers=forwarded
        ).status_code
        == 200
    )
    assert len(recorder.statuses) == 2


def test_public_url_argument_wins_over_the_yaml(
    plugin_manager: pluggy.PluginManager, recorder: Recorder
) -> None:
    app = norq.Norq.from_dict(
        {
            **document(webhook_auth_token=WEBHOOK_TOKEN),
            "webhooks": {"public_url": "https://yaml.example.com"},
        },
        environ={},
        plugin_manager=plugin_manager,
    )
    client = TestClient(create_webhook_app(app, public_url="https://arg.example.com"))
    url = "https://arg.example.com/status"
    assert signed_post(client, "/status", STATUS_FIELDS, url=url).status_code == 200
    yaml_url = "https://yaml.example.com/status"
    assert signed_post(client, "/status", STATUS_FIELDS, url=yaml_url).status_code == 403


def test_auth_token_mode_verifies_with_the_auth_token(plugin_manager: pluggy.PluginManager) -> None:
    app = norq.Norq.from_dict(
        document(api_key_sid=None, api_key_secret=None, auth_token=AUTH_TOKEN),
        environ={},
        plugin_manager=plugin_manager,
    )
    client = TestClient(create_webhook_app(app))
    assert signed_post(client, "/status", STATUS_FIELDS, token=AUTH_TOKEN).status_code == 200


def test_plugin_manager_target_with_explicit_token_and_instance_name(
    plugin_manager: pluggy.PluginManager, recorder: Recorder
) -> None:
    app = create_webhook_app(plugin_manager, auth_token=AUTH_TOKEN, provider="twilio_eu")
    signed_post(TestClient(app), "/inbound", INBOUND_FIELDS, token=AUTH_TOKEN)
    assert recorder.inbound[0][1] == "twilio_eu"


def test_api_key_config_without_webhook_token_cannot_build_the_app(
    plugin_manager: pluggy.PluginManager,
) -> None:
    app = norq.Norq.from_dict(document(), environ={}, plugin_manager=plugin_manager)
    with pytest.raises(ValueError, match="set webhook_auth_token"):
        create_webhook_app(app)


def test_plugin_manager_target_needs_a_token(plugin_manager: pluggy.PluginManager) -> None:
    with pytest.raises(ValueError, match="pass auth_token="):
        create_webhook_app(plugin_manager)


def test_unknown_instance_is_refused(app_norq: norq.Norq) -> None:
    with pytest.raises(ValueError, match="Twilio instances: twilio"):
        create_webhook_app(app_norq, provider="twilio_eu")


def test_rejections_are_logged_without_secrets(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="norq")
    signed_post(client, "/status", STATUS_FIELDS, token="wrong")
    assert "invalid X-Twilio-Signature" in caplog.text
    assert WEBHOOK_TOKEN not in caplog.text


class SlowHook:
    """A ``delivery_status`` hook that blocks until released, then succeeds or fails."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail = False
        self.calls = 0

    @norq.hookimpl
    def delivery_status(self, status: norq.MessageStatus, provider: str) -> None:
        self.calls += 1
        self.entered.set()
        self.release.wait(timeout=30)
        if self.fail:
            raise RuntimeError("database down")


async def post_concurrent_duplicate(
    hook: SlowHook, *, fail: bool
) -> tuple[httpx.Response, httpx.Response]:
    """Deliver one callback twice, the copy arriving while the first's hook runs."""
    pm = get_plugin_manager(load_entry_points=False)
    pm.register(hook)
    app = norq.Norq.from_dict(
        document(webhook_auth_token=WEBHOOK_TOKEN), environ={}, plugin_manager=pm
    )
    transport = httpx.ASGITransport(app=create_webhook_app(app))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": compute_signature(WEBHOOK_TOKEN, BASE + "/status", STATUS_FIELDS),
        "I-Twilio-Idempotency-Token": "idem-concurrent",
    }
    body = urlencode(STATUS_FIELDS)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        first = asyncio.create_task(client.post("/status", content=body, headers=headers))
        await asyncio.to_thread(hook.entered.wait, 30)
        copy = asyncio.create_task(client.post("/status", content=body, headers=headers))
        for _ in range(50):  # let the copy run as far as it can while the hook blocks
            await asyncio.sleep(0)
        answered_early = copy.done()
        hook.fail = fail
        hook.release.set()
        responses = await first, await copy
    assert not answered_early, "the copy was answered before the first delivery settled"
    return responses


async def test_a_concurrent_duplicate_waits_for_the_first_delivery() -> None:
    hook = SlowHook()
    first, copy = await post_concurrent_duplicate(hook, fail=False)
    assert (first.status_code, copy.status_code) == (200, 200)
    assert copy.text == EMPTY_TWIML
    assert hook.calls == 1


async def test_a_concurrent_duplicate_of_a_failing_delivery_is_not_answered_200() -> None:
    hook = SlowHook()
    first, copy = await post_concurrent_duplicate(hook, fail=True)
    # Twilio sees a failure for both copies and retries; no event is lost.
    assert (first.status_code, copy.status_code) == (500, 500)
    assert hook.calls == 1


def test_signature_made_with_hmac_sha256_is_accepted(
    client: TestClient, recorder: Recorder
) -> None:
    settings = {
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    }
    refused = signed_post(client, "/status", STATUS_FIELDS, algorithm="HMAC_SHA256")
    accepted = signed_post(
        client, "/status", STATUS_FIELDS, algorithm="HMAC_SHA256", headers=settings
    )
    assert (refused.status_code, accepted.status_code) == (403, 200)
    assert len(recorder.statuses) == 1


def test_an_unknown_signature_algorithm_is_refused_and_logged(
    client: TestClient, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="norq")
    headers = {"X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_MD5"}
    response = signed_post(client, "/status", STATUS_FIELDS, headers=headers)
    assert response.status_code == 403
    assert "HMAC_MD5" in caplog.text
    assert recorder.statuses == []


def test_repeated_parameters_with_identical_values_verify(
    client: TestClient, recorder: Recorder
) -> None:
    pairs = [*STATUS_FIELDS.items(), ("Tag", "a"), ("Tag", "a")]
    response = signed_post(client, "/status", pairs, signed=pairs[:-1])
    assert response.status_code == 200
    assert len(recorder.statuses) == 1


def test_only_the_most_recent_tokens_are_remembered(
    app_norq: norq.Norq, recorder: Recorder
) -> None:
    client = TestClient(create_webhook_app(app_norq, remember=1))
    for token in ("a", "b", "a"):
        headers = {"I-Twilio-Idempotency-Token": token}
        assert signed_post(client, "/status", STATUS_FIELDS, headers=headers).status_code == 200
    assert len(recorder.statuses) == 3
