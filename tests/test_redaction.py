"""The redactor masks a secret in every encoding it can reach output in."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norq.redaction import MASK, Redactor

SECRET = "key-SECRET/with+odd=chars"
UNICODE_SECRET = 'pässwörd "quoted" \\ slash'


def basic(username: str, secret: str, *, urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(f"{username}:{secret}".encode()).decode("ascii")


@pytest.fixture
def redactor() -> Redactor:
    return Redactor([SECRET, UNICODE_SECRET])


@pytest.mark.parametrize(
    "text",
    [
        SECRET,
        quote(SECRET, safe=""),
        re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(SECRET, safe="")),
        quote(SECRET),
        quote_plus(SECRET),
        urlencode({"token": SECRET}),
        json.dumps({"token": SECRET}),
        json.dumps({"token": UNICODE_SECRET}),
        json.dumps({"token": UNICODE_SECRET}, ensure_ascii=False),
        quote_plus(UNICODE_SECRET),
    ],
)
def test_plain_percent_form_and_json_forms_are_masked(redactor: Redactor, text: str) -> None:
    assert SECRET not in redactor.text(text)
    assert MASK in redactor.text(text)
    assert text not in redactor.text(text)


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Basic " + basic("SK0123", SECRET),
        '{"echo": {"authorization": "Basic ' + basic("AC0123", SECRET) + '"}}',
        "Basic " + basic("AC0123", SECRET, urlsafe=True),
        "authorization=" + quote_plus("Basic " + basic("SK0123", SECRET)),
        "authorization=" + quote("Basic " + basic("SK0123", SECRET), safe=""),
        "token " + base64.b64encode(SECRET.encode()).decode(),
        "Basic " + basic("user", UNICODE_SECRET),
        "Basic " + basic("AC0123", SECRET).rstrip("="),
    ],
)
def test_base64_of_user_and_secret_is_masked(redactor: Redactor, text: str) -> None:
    masked = redactor.text(text)
    assert MASK in masked
    token = basic("SK0123", SECRET)
    for hidden in (token, quote_plus(token), token.rstrip("=")[:-4]):
        assert hidden not in masked


def test_ordinary_text_and_other_base64_are_left_alone(redactor: Redactor) -> None:
    text = (
        "delivered +15551234567 via twilio: SM0123456789abcdef (1 attempt) "
        "To=%2B15551234567&Body=Hello+world Basic " + basic("user", "another-password")
    )
    assert redactor.text(text) == text


def test_a_redactor_without_secrets_changes_nothing() -> None:
    text = "Basic " + basic("user", SECRET)
    assert Redactor([]).text(text) == text
    assert Redactor(["", ""]).text(text) == text


def test_secret_headers_are_masked_whatever_they_hold(redactor: Redactor) -> None:
    headers = {"Authorization": "Bearer xyz", "X-Echo": "Basic " + basic("u", SECRET)}
    assert redactor.headers(headers) == {"Authorization": MASK, "X-Echo": f"Basic {MASK}"}


secrets = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=8, max_size=40
)
usernames = st.text(alphabet="ABCDEFabcdef0123456789", min_size=2, max_size=34)


@given(secret=secrets, username=usernames)
def test_every_encoding_of_any_secret_is_masked(secret: str, username: str) -> None:
    redactor = Redactor([secret])
    token = basic(username, secret)
    for text in (
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        f"Basic {token}",
        "Basic " + basic(username, secret, urlsafe=True),
        quote_plus(f"Basic {token}"),
    ):
        masked = redactor.text(f"<{text}>")
        assert secret not in masked
        assert token not in masked
        assert masked != f"<{text}>"
