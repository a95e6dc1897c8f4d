"""X-Twilio-Signature: Twilio's own known answer, and every way a forgery differs."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norq.providers.twilio.signature import (
    HMAC_SHA1,
    HMAC_SHA256,
    UnsupportedAlgorithm,
    compute_signature,
    is_valid_signature,
    signature_algorithm,
    url_variants,
)

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


def test_a_non_default_port_may_be_left_out_of_the_signed_url() -> None:
    # Twilio's validator strips any port, so a proxy on :8443 still verifies.
    on_8443 = "https://mycompany.com:8443/myapp.php?foo=1&bar=2"
    assert url_variants(on_8443) == [URL, on_8443]
    assert is_valid_signature(TOKEN, on_8443, EXPECTED, PARAMS)
    assert is_valid_signature(TOKEN, on_8443, compute_signature(TOKEN, on_8443, PARAMS), PARAMS)
    assert not is_valid_signature(
        TOKEN, "https://mycompany.com:8443/myapp.php?foo=1&bar=2", EXPECTED[::-1], PARAMS
    )


def test_a_port_signed_for_one_host_does_not_verify_for_another() -> None:
    assert not is_valid_signature(
        TOKEN, "https://evil.com:8443/myapp.php?foo=1&bar=2", EXPECTED, PARAMS
    )


def test_a_parameter_repeated_with_the_same_value_is_signed_once() -> None:
    once = [("Tag", "a"), ("Body", "hi")]
    twice = [("Tag", "a"), ("Body", "hi"), ("Tag", "a")]
    signature = compute_signature(TOKEN, URL, once)
    assert compute_signature(TOKEN, URL, twice) == signature
    assert is_valid_signature(TOKEN, URL, signature, twice)


def test_repeated_names_with_different_values_are_signed_in_value_order() -> None:
    signature = compute_signature(TOKEN, URL, [("Tag", "a"), ("Tag", "b")])
    assert is_valid_signature(TOKEN, URL, signature, [("Tag", "b"), ("Tag", "a")])
    assert not is_valid_signature(TOKEN, URL, signature, [("Tag", "a")])


def test_hmac_sha256_signatures_verify_only_as_sha256() -> None:
    signature = compute_signature(TOKEN, URL, PARAMS, algorithm=HMAC_SHA256)
    assert len(base64.b64decode(signature)) == 32
    assert is_valid_signature(TOKEN, URL, signature, PARAMS, algorithm=HMAC_SHA256)
    assert is_valid_signature(TOKEN, URL, signature, PARAMS, algorithm="hmac_sha256")
    assert not is_valid_signature(TOKEN, URL, signature, PARAMS)
    assert not is_valid_signature(TOKEN, URL, EXPECTED, PARAMS, algorithm=HMAC_SHA256)


def test_an_unknown_algorithm_never_verifies() -> None:
    assert not is_valid_signature(TOKEN, URL, EXPECTED, PARAMS, algorithm="HMAC_MD5")
    with pytest.raises(UnsupportedAlgorithm, match="HMAC_MD5"):
        compute_signature(TOKEN, URL, PARAMS, algorithm="HMAC_MD5")


@pytest.mark.parametrize(
    ("header", "algorithm"),
    [
        (None, HMAC_SHA1),
        ("", HMAC_SHA1),
        ("key=webhooks_sharedkey_1", HMAC_SHA1),
        ("key=webhooks_sharedkey_1,algorithm=HMAC_SHA256", HMAC_SHA256),
        (" algorithm = HMAC_SHA256 , key=k", HMAC_SHA256),
        ("algorithm=", HMAC_SHA1),
    ],
)
def test_the_settings_header_names_the_algorithm(header: str | None, algorithm: str) -> None:
    assert signature_algorithm(header) == algorithm


def test_a_url_with_an_invalid_port_never_verifies() -> None:
    assert not is_valid_signature(TOKEN, "https://mycompany.com:99999/x", EXPECTED, PARAMS)


def test_json_body_is_covered_by_body_sha256() -> None:
    body = b'{"MessageSid":"SM1","MessageStatus":"delivered"}'
    url = f"https://hooks.example.com/status?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = compute_signature(TOKEN, url)
    assert is_valid_signature(TOKEN, url, signature, body=body)
    assert not is_valid_signature(TOKEN, url, signature, body=body.replace(b"delivered", b"failed"))


def test_json_body_without_body_sha256_fails() -> None:
    url = "https://hooks.example.com/status"
    assert not is_valid_signature(TOKEN, url, compute_signature(TOKEN, url), body=b"{}")


def test_body_sha256_is_compared_exactly() -> None:
    body = b"{}"
    url = f"https://hooks.example.com/status?bodySHA256={hashlib.sha256(body).hexdigest().upper()}"
    assert not is_valid_signature(TOKEN, url, compute_signature(TOKEN, url), body=body)


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
