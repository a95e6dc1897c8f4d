"""The shared executor: retries, backoff, Retry-After, transport errors, extraction."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from norq.executor import Executor
from norq.request import BasicAuth, PreparedRequest
from norq.retry import RetryPolicy
from norq.send_result import ErrorFormat, parse_retry_after
from tests.conftest import Sleeps

URL = "https://api.acme.test/v1/messages"

ERRORS = ErrorFormat(
    code_path="$.code",
    message_path="$.message",
    more_info_path="$.more_info",
    code_map={"21211": "invalid_recipient"},
)


def request(**overrides: object) -> PreparedRequest:
    fields: dict[str, object] = {
        "method": "POST",
        "url": URL,
        "form": (("To", "+15551234567"), ("Body", "hi")),
        "auth": BasicAuth("AC1", "s3cret"),
        "success_statuses": frozenset({200, 201}),
        "message_id_path": "$.sid",
        "errors": ERRORS,
    }
    fields.update(overrides)
    return PreparedRequest(**fields)  # type: ignore[arg-type]


def created(sid: str = "SM1") -> httpx.Response:
    return httpx.Response(201, json={"sid": sid})


@respx.mock
def test_success_extracts_message_id(executor: Executor) -> None:
    respx.post(URL).mock(return_value=created("SMabc"))
    outcome = executor.send(request())
    assert (outcome.ok, outcome.message_id, outcome.status_code, outcome.attempts) == (
        True,
        "SMabc",
        201,
        1,
    )


@respx.mock
def test_wire_shape_of_a_form_request(executor: Executor) -> None:
    route = respx.post(URL).mock(return_value=created())
    executor.send(request(form=(("MediaUrl", "https://a/1"), ("MediaUrl", "https://a/2"))))
    sent = route.calls.last.request
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.headers["authorization"] == BasicAuth("AC1", "s3cret").header_value
    assert sent.content == b"MediaUrl=https%3A%2F%2Fa%2F1&MediaUrl=https%3A%2F%2Fa%2F2"
    assert sent.headers["user-agent"].startswith("norq/")


@respx.mock
def test_query_pairs_are_encoded_into_the_url(executor: Executor) -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(200, json={"sid": "x"}))
    executor.send(request(method="GET", form=None, query=(("To", "+1 555"), ("PageSize", "2"))))
    assert route.calls.last.request.url.query == b"To=%2B1+555&PageSize=2"


@respx.mock
def test_message_id_from_a_response_header(executor: Executor) -> None:
    respx.post(URL).mock(return_value=httpx.Response(202, headers={"X-Message-Id": "m-9"}))
    outcome = executor.send(
        request(message_id_path=None, message_id_header="x-message-id", success_statuses={202})
    )
    assert outcome.message_id == "m-9"


@respx.mock
def test_success_without_id_is_a_failed_bad_response(executor: Executor) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(201, json={"other": 1}))
    outcome = executor.send(request())
    assert not outcome.ok
    assert outcome.message_id is None
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.disposition) == ("bad_response", "final")
    assert "without the message id at $.sid" in outcome.error.message
    assert route.call_count == 1


@respx.mock
def test_server_errors_are_retried_with_exponential_backoff(
    executor: Executor, sleeps: Sleeps
) -> None:
    route = respx.post(URL).mock(side_effect=[httpx.Response(500), httpx.Response(503), created()])
    outcome = executor.send(request())
    assert outcome.ok
    assert outcome.attempts == 3
    assert route.call_count == 3
    first, second = sleeps.calls
    assert 0.5 <= first <= 0.5 * 1.25
    assert 1.0 <= second <= 1.0 * 1.25


@respx.mock
def test_retries_stop_after_the_policy_maximum(executor: Executor, sleeps: Sleeps) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(503, json={"message": "down"}))
    outcome = executor.send(request())
    assert not outcome.ok
    assert route.call_count == 3
    assert outcome.attempts == 3
    assert len(sleeps.calls) == 2
    assert outcome.error is not None
    assert outcome.error.code == "provider_unavailable"
    assert outcome.error.disposition == "retry"


@respx.mock
def test_zero_retries_means_one_attempt(executor: Executor) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(500))
    outcome = executor.send(request(retry=RetryPolicy(max_retries=0)))
    assert route.call_count == 1
    assert outcome.attempts == 1


@respx.mock
def test_client_errors_are_never_retried(executor: Executor, sleeps: Sleeps) -> None:
    body = {"code": 21211, "message": "Invalid 'To'", "more_info": "https://e/21211"}
    route = respx.post(URL).mock(return_value=httpx.Response(400, json=body))
    outcome = executor.send(request())
    assert route.call_count == 1
    assert sleeps.calls == []
    assert outcome.error is not None
    assert outcome.error.code == "invalid_recipient"
    assert outcome.error.provider_code == "21211"
    assert outcome.error.message == "Invalid 'To'"
    assert outcome.error.more_info == "https://e/21211"
    assert outcome.error.disposition == "final"


@respx.mock
def test_error_without_json_body_is_normalised_from_the_status(executor: Executor) -> None:
    respx.post(URL).mock(return_value=httpx.Response(401, text="<html>denied</html>"))
    outcome = executor.send(request())
    assert outcome.error is not None
    assert outcome.error.code == "invalid_credentials"
    assert outcome.error.message == "HTTP 401: <html>denied</html>"
    assert outcome.error.provider_code is None


@respx.mock
def test_unmapped_provider_code_falls_back_to_the_status(executor: Executor) -> None:
    respx.post(URL).mock(return_value=httpx.Response(403, json={"code": 99, "message": "no"}))
    outcome = executor.send(request())
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.provider_code) == ("permission_denied", "99")


@respx.mock
def test_retry_after_seconds_is_honoured(executor: Executor, sleeps: Sleeps) -> None:
    respx.post(URL).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), created()])
    assert executor.send(request()).ok
    assert sleeps.calls == [3.0]


@respx.mock
def test_retry_after_http_date_is_honoured(sleeps: Sleeps) -> None:
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    executor = Executor(sleep=sleeps, rng=random.Random(1), clock=now.timestamp)
    later = format_datetime(now + timedelta(seconds=7), usegmt=True)
    respx.post(URL).mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": later}), created()]
    )
    assert executor.send(request()).ok
    assert sleeps.calls == [7.0]


@respx.mock
def test_retry_after_beyond_the_cap_ends_retries(executor: Executor, sleeps: Sleeps) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "600"}))
    outcome = executor.send(request(retry=RetryPolicy(retry_after_max=30)))
    assert route.call_count == 1
    assert sleeps.calls == []
    assert outcome.error is not None
    assert outcome.error.code == "rate_limited"


@respx.mock
def test_connect_errors_are_retried(executor: Executor) -> None:
    route = respx.post(URL).mock(side_effect=[httpx.ConnectError("refused"), created()])
    outcome = executor.send(request())
    assert outcome.ok
    assert route.call_count == 2
    assert outcome.attempts == 2


@respx.mock
def test_connect_errors_exhaust_into_a_transient_failure(executor: Executor) -> None:
    respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    outcome = executor.send(request())
    assert outcome.attempts == 3
    assert outcome.error is not None
    assert outcome.error.code == "connect_error"
    assert outcome.error.disposition == "retry"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.RemoteProtocolError("Server disconnected"), "connection_lost"),
        (httpx.ReadError("reset"), "connection_lost"),
    ],
)
@respx.mock
def test_unconfirmed_sends_are_not_retried(executor: Executor, exc: Exception, code: str) -> None:
    route = respx.post(URL).mock(side_effect=[exc, created()])
    outcome = executor.send(request())
    assert route.call_count == 1
    assert outcome.error is not None
    assert outcome.error.code == code
    assert "may or may not have accepted" in outcome.error.message
    assert outcome.error.disposition == "final"


@respx.mock
def test_unconfirmed_sends_are_retried_when_the_policy_allows(executor: Executor) -> None:
    route = respx.post(URL).mock(side_effect=[httpx.RemoteProtocolError("gone"), created()])
    outcome = executor.send(request(retry=RetryPolicy(retry_unconfirmed=True)))
    assert outcome.ok
    assert route.call_count == 2


@respx.mock
async def test_async_send_retries_like_the_sync_one(executor: Executor, sleeps: Sleeps) -> None:
    route = respx.post(URL).mock(
        side_effect=[httpx.Response(502), httpx.ConnectError("x"), created("SMa")]
    )
    outcome = await executor.asend(request())
    await executor.aclose()
    assert (outcome.ok, outcome.message_id, outcome.attempts) == (True, "SMa", 3)
    assert route.call_count == 3
    assert len(sleeps.calls) == 2


@respx.mock
def test_retries_are_logged_without_secrets(
    executor: Executor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="norq")
    respx.post(URL).mock(side_effect=[httpx.Response(500), created()])
    executor.send(request())
    assert "HTTP 500 on attempt 1; retrying" in caplog.text
    assert "s3cret" not in caplog.text
    assert BasicAuth("AC1", "s3cret").header_value not in caplog.text


def test_one_client_serves_every_send(executor: Executor) -> None:
    with respx.mock:
        respx.post(URL).mock(return_value=created())
        executor.send(request())
        first = executor.transport("http")._sync._client  # type: ignore[attr-defined]
        executor.send(request())
        assert executor.transport("http")._sync._client is first  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), ("0.5", 0.5), ("", None), ("soon", None), ("-3", None), ("nan", None)],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    assert parse_retry_after(value) == (expected, None)


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2)


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(backoff=1, max_backoff=5, jitter=0)
    assert [policy.delay(n, random.Random(0)) for n in range(5)] == [1, 2, 4, 5, 5]


def test_form_and_json_are_exclusive() -> None:
    with pytest.raises(ValueError, match="one body"):
        PreparedRequest(method="POST", url=URL, form=(("a", "b"),), json={"a": 1})
