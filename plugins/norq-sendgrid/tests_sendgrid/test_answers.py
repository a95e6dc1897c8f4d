"""SendGrid's answers: 202 with X-Message-Id, every listed error kept, codes and dispositions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from norq_sendgrid import SendGridProvider

import norq
from tests_sendgrid.conftest import RECIPIENT, MakeNorq, sendgrid


@pytest.fixture
def reader(make_norq: MakeNorq) -> Any:
    """``read(status, body, headers)`` through the provider's own ``read_send``."""
    provider = make_norq().providers["sendgrid"]
    request = provider.prepare_send(norq.Message("email", RECIPIENT, "hi", {"subject": "s"}))

    def read(status: int, body: Any = b"", headers: dict[str, str] | None = None) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return provider.read_send(request, norq.Response(status, headers or {}, raw))

    return read


def errors(*pairs: tuple[str, str | None]) -> dict[str, Any]:
    return {"errors": [{"message": m, "field": f, "help": None} for m, f in pairs]}


def test_202_takes_the_id_from_x_message_id(reader: Any) -> None:
    result = reader(202, b"", {"x-message-id": "abc123"})
    assert (result.ok, result.message_id) == (True, "abc123")


def test_202_without_an_id_is_a_bad_response_that_neither_retries_nor_fails_over(
    reader: Any,
) -> None:
    result = reader(202)
    assert (result.ok, result.code, result.disposition) == (False, "bad_response", "final")


def test_every_listed_error_is_kept_in_the_message(reader: Any) -> None:
    result = reader(
        400,
        errors(
            ("The subject is required.", "subject"),
            ("Does not contain a valid address.", "personalizations.0.to.0.email"),
            ("Something without a field", None),
        ),
    )
    assert result.message == (
        "SendGrid: The subject is required. (field subject); "
        "Does not contain a valid address. (field personalizations.0.to.0.email); "
        "Something without a field"
    )
    assert (result.code, result.disposition, result.provider_code) == (
        "invalid_message",
        "final",
        "400",
    )


@pytest.mark.parametrize(
    ("status", "body", "code", "disposition"),
    [
        (400, errors(("bad", "personalizations.0.to.0.email")), "invalid_recipient", "final"),
        (400, errors(("bad", "from.email")), "invalid_sender", "failover"),
        (400, errors(("bad", "content.0.value")), "invalid_message", "final"),
        (
            401,
            errors(("Permission denied, wrong credentials", None)),
            "invalid_credentials",
            "failover",
        ),
        (401, errors(("Maximum credits exceeded", None)), "quota_exceeded", "failover"),
        (
            403,
            errors(("The from address does not match a verified Sender Identity.", "from")),
            "invalid_sender",
            "failover",
        ),
        (403, errors(("access forbidden", None)), "permission_denied", "failover"),
        (404, b"", "not_found", "failover"),
        (413, errors(("too large", None)), "message_too_long", "final"),
        (429, errors(("too many requests", None)), "rate_limited", "retry"),
        (500, b"oops", "provider_unavailable", "retry"),
        (503, b"", "provider_unavailable", "retry"),
        (418, b"", "rejected", "final"),
    ],
)
def test_each_refusal_has_its_code_and_disposition(
    reader: Any, status: int, body: Any, code: str, disposition: str
) -> None:
    result = reader(status, body)
    assert (result.ok, result.code, result.disposition) == (False, code, disposition)


def test_a_body_without_errors_is_quoted(reader: Any) -> None:
    assert reader(500, b"upstream timeout").message == "SendGrid: HTTP 500: upstream timeout"


def test_429_waits_until_x_ratelimit_reset(reader: Any) -> None:
    result = reader(429, b"", {"x-ratelimit-reset": "1700000003"})
    assert (result.retry_at, result.retry_after) == (1_700_000_003, None)


def test_retry_after_wins_over_the_reset_header(reader: Any) -> None:
    result = reader(429, b"", {"retry-after": "2", "x-ratelimit-reset": "1700000009"})
    assert (result.retry_after, result.retry_at) == (2, None)


@pytest.mark.parametrize("value", ["soon", "-5", "inf", "nan", ""])
def test_an_unreadable_reset_is_no_hint(reader: Any, value: str) -> None:
    result = reader(429, b"", {"x-ratelimit-reset": value})
    assert (result.retry_after, result.retry_at) == (None, None)


def test_a_server_error_outside_the_retry_policy_fails_over(make_norq: MakeNorq) -> None:
    doc = {
        "providers": {
            "sendgrid": {
                "type": "sendgrid",
                "config": {"api_key": "k", "from": "a@example.com"},
                "retry": {"retry_statuses": [429]},
            }
        },
        "routing": {"email": "sendgrid"},
    }
    provider = make_norq(doc).providers["sendgrid"]
    request = provider.prepare_send(norq.Message("email", RECIPIENT, "hi", {"subject": "s"}))
    result = provider.read_send(request, norq.Response(503, {}, b""))
    assert (result.code, result.disposition) == ("provider_unavailable", "failover")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


PROVIDER = SendGridProvider(SendGridProvider.Config.model_validate(sendgrid()["config"]))
REQUEST = PROVIDER.prepare_send(norq.Message("email", RECIPIENT, "hi", {"subject": "s"}))


@given(
    status=st.sampled_from([400, 401, 403, 404, 413, 429, 500, 502]),
    body=st.binary(max_size=64) | st.builds(lambda v: json.dumps(v).encode(), json_values),
)
def test_any_refusal_is_read_without_raising(status: int, body: bytes) -> None:
    result = PROVIDER.read_send(REQUEST, norq.Response(status, {}, body))
    assert not result.ok
    assert (result.message or "").startswith("SendGrid: ")
