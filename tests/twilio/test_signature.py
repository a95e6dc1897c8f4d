"""X-Twilio-Signature: Twilio's own known answer, and every way a forgery differs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norq.providers.twilio.signature import compute_signature, is_valid_signature, url_variants

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
EXPECTED = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_twilio_documented_known_answer() -> None:
    assert compute_signature(TOKEN, URL, PARAMS) == EXPECTED
    assert is_valid_signature(TOKEN, URL, EXPECTED, PARAMS)


def test_parameter_order_does_not_matter() -> None:
    assert is_valid_signature(TOKEN, URL, EXPECTED, list(reversed(PARAMS.items())))


@pytest.mark.parametrize(
    "url",
    [
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        "https://mycompany.com/myapp.php?foo=1",
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        "https://evil.com/myapp.php?foo=1&bar=2",
    ],
)
def test_a_different_url_fails(url: str) -> None:
    assert not is_valid_signature(TOKEN, url, EXPECTED, PARAMS)


@pytest.mark.parametrize(
    "params",
    [
        {**PARAMS, "Digits": "9999"},
        {**PARAMS, "Extra": "1"},
        {k: v for k, v in PARAMS.items() if k != "Caller"},
    ],
)
def test_changed_parameters_fail(params: dict[str, str]) -> None:
    assert not is_valid_signature(TOKEN, URL, EXPECTED, params)


@pytest.mark.parametrize("signature", [None, "", EXPECTED[:-2], EXPECTED.lower()])
def test_missing_or_altered_signature_fails(signature: str | None) -> None:
    assert not is_valid_signature(TOKEN, URL, signature, PARAMS)


def test_another_token_fails() -> None:
    assert not is_valid_signature("54321", URL, EXPECTED, PARAMS)
    assert not is_valid_signature("", URL, EXPECTED, PARAMS)


def test_default_port_may_be_added_or_removed() -> None:
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert url_variants(URL) == [URL, with_port]
    signed_with_port = compute_signature(TOKEN, with_port, PARAMS)
    assert is_valid_signature(TOKEN, URL, signed_with_port, PARAMS)
    assert is_valid_signature(TOKEN, with_port, EXPECTED, PARAMS)
    assert not is_valid_signature(
        TOKEN, "https://mycompany.com:8443/myapp.php?foo=1&bar=2", EXPECTED, PARAMS
    )


def test_json_body_is_covered_by_body_sha256() -> None:
    body = b'{"MessageSid":"SM1","MessageStatus":"delivered"}'
    url = f"https://hooks.example.com/status?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = compute_signature(TOKEN, url)
    assert is_valid_signature(TOKEN, url, signature, body=body)
    assert not is_valid_signature(TOKEN, url, signature, body=body.replace(b"delivered", b"failed"))


def test_json_body_without_body_sha256_fails() -> None:
    url = "https://hooks.example.com/status"
    assert not is_valid_signature(TOKEN, url, compute_signature(TOKEN, url), body=b"{}")


def test_body_sha256_must_match_even_when_the_url_is_signed() -> None:
    url = "https://hooks.example.com/status?bodySHA256=" + "0" * 64
    assert not is_valid_signature(TOKEN, url, compute_signature(TOKEN, url), body=b"{}")


@given(
    st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=6),
    st.text(min_size=1, max_size=20),
)
def test_any_request_verifies_with_its_own_signature(params: dict[str, str], token: str) -> None:
    url = "https://hooks.example.com/inbound?x=1"
    assert is_valid_signature(token, url, compute_signature(token, url, params), params)
