"""The response step: read_declared, dispositions, wait hints. Pure functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

import norq
from norq.executor import Attempts
from norq.receipt import Outcome
from norq.retry import DEFAULT_DISPOSITIONS
from norq.send_result import parse_retry_after, read_declared, wait_hints

ERRORS = norq.ErrorFormat(
    code_path="$.code",
    message_path="$.message",
    code_map={"Q": "rate_limited", "N": "invalid_recipient"},
    dispositions={"Q": "failover"},
    reset_header="X-RateLimit-Reset",
)


def request(**overrides: object) -> norq.PreparedRequest:
    fields: dict[str, object] = {
        "method": "POST",
        "url": "https://api.test/send",
        "json": {"to": "x"},
        "message_id_path": "$.id",
        "errors": ERRORS,
    }
    fields.update(overrides)
    return norq.PreparedRequest(**fields)  # type: ignore[arg-type]


def answer(status: int, body: bytes = b"", **headers: str) -> norq.Response:
    return norq.Response(status, {"content-type": "application/json", **headers}, body)


def test_every_normalised_code_has_a_default_disposition() -> None:
    assert set(DEFAULT_DISPOSITIONS) == set(norq.ErrorCode)


def test_success_with_the_id_is_accepted() -> None:
    result = read_declared(request(), answer(200, b'{"id": "m1"}'))
    assert (result.ok, result.message_id) == (True, "m1")


def test_a_200_without_the_id_is_a_final_bad_response() -> None:
    result = read_declared(request(), answer(200, b'{"ok": true}'))
    assert (result.ok, result.code, result.disposition) == (False, "bad_response", "final")


def test_a_request_that_expects_no_id_is_accepted_without_one() -> None:
    result = read_declared(request(message_id_path=None), answer(204))
    assert (result.ok, result.message_id) == (True, None)


def test_a_provider_code_override_wins_over_the_table() -> None:
    result = read_declared(request(), answer(400, b'{"code": "Q", "message": "quota"}'))
    assert (result.code, result.disposition) == ("rate_limited", "failover")


def test_a_retry_status_is_retried_whatever_the_code() -> None:
    result = read_declared(request(), answer(503, b'{"code": "N"}'))
    assert (result.code, result.disposition) == ("invalid_recipient", "retry")


def test_a_table_retry_outside_the_retry_statuses_fails_over_instead() -> None:
    no_429 = norq.RetryPolicy(retry_statuses=frozenset({503}))
    result = read_declared(request(retry=no_429), answer(429))
    assert (result.code, result.disposition) == ("rate_limited", "failover")


@pytest.mark.parametrize(
    ("status", "code", "disposition"),
    [
        (401, "invalid_credentials", "failover"),
        (404, "not_found", "failover"),
        (400, "rejected", "final"),
    ],
)
def test_http_statuses_take_the_table_disposition(status: int, code: str, disposition: str) -> None:
    result = read_declared(request(), answer(status))
    assert (result.code, result.disposition) == (code, disposition)


def test_an_unknown_disposition_is_refused_when_the_format_is_built() -> None:
    with pytest.raises(ValueError, match="'retry', 'failover', 'final'"):
        norq.ErrorFormat(dispositions={"1": "later"})


def test_retry_after_wins_over_the_reset_header() -> None:
    hints = wait_hints(answer(429, **{"Retry-After": "4", "X-RateLimit-Reset": "99"}), ERRORS)
    assert hints == (4.0, None)


def test_the_reset_header_is_unix_time_by_default_and_delta_when_declared() -> None:
    response = answer(429, **{"x-ratelimit-reset": "1700000030"})
    assert wait_hints(response, ERRORS) == (None, 1700000030.0)
    delta = norq.ErrorFormat(reset_header="X-RateLimit-Reset", reset_is_delta=True)
    assert wait_hints(answer(429, **{"X-RateLimit-Reset": "7"}), delta) == (7.0, None)


def test_an_http_date_is_a_unix_time() -> None:
    when = datetime(2026, 11, 24, 3, 0, 0, tzinfo=UTC)
    assert parse_retry_after(format_datetime(when, usegmt=True)) == (None, when.timestamp())


@given(st.text(max_size=30))
def test_any_header_text_gives_no_hint_or_a_usable_one(text: str) -> None:
    after, at = parse_retry_after(text)
    assert after is None or (after >= 0 and after != float("inf"))
    assert at is None or at == at  # not NaN


def attempts_for(response: norq.Response, *, now: float = 1000.0, **policy: float) -> object:
    prepared = request(retry=norq.RetryPolicy(**policy))  # type: ignore[arg-type]
    return Attempts(prepared, read_declared, random.Random(1), lambda: now).record(response)


def test_a_reset_time_becomes_a_wait_from_now() -> None:
    assert attempts_for(answer(429, **{"X-RateLimit-Reset": "1012"})) == 12.0


def test_a_wait_hint_beyond_retry_after_max_ends_the_retries() -> None:
    outcome = attempts_for(answer(429, **{"X-RateLimit-Reset": "1100"}), retry_after_max=30)
    assert isinstance(outcome, Outcome)
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.disposition) == ("rate_limited", "retry")


def test_a_reader_that_raises_reports_a_bad_response() -> None:
    def broken(request: object, response: norq.Response) -> norq.SendResult:
        raise KeyError("messages")

    prepared = request()
    outcome = Attempts(prepared, broken, random.Random(1), lambda: 0.0).record(answer(200))
    assert isinstance(outcome, Outcome)
    assert outcome.error is not None
    assert outcome.error.code == "bad_response"
    assert "KeyError" in outcome.error.message
