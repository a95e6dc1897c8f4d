"""The public helpers for plugin authors: address formats and error tables."""

from __future__ import annotations

from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import norq


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_e164_accepts_every_well_formed_number(number: str) -> None:
    assert norq.E164.check_recipient(number) == number


@given(st.text(max_size=20))
def test_e164_refuses_anything_else_with_the_fix(text: str) -> None:
    if norq.is_e164(text):
        return
    with pytest.raises(norq.MessageError) as caught:
        norq.E164.check_recipient(text)
    assert caught.value.code == "invalid_recipient"
    assert str(caught.value).endswith("; write it like +15551234567")


@given(
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){1,2}", fullmatch=True),
    st.from_regex(r"(/[A-Za-z0-9._~-]{0,10}){0,3}", fullmatch=True),
)
def test_http_url_accepts_absolute_urls(scheme: str, host: str, path: str) -> None:
    url = f"{scheme}://{host}{path}"
    assert norq.HTTP_URL.validate(url) == url


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("example.com/hook", "needs http:// or https:// and a host"),
        ("ftp://example.com", "needs http:// or https://"),
        ("https://:80/", "and a host"),
        ("https://example.com:99999", "and a host"),
        ("https://example.com/a b", "spaces or line breaks"),
    ],
)
def test_http_url_says_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as caught:
        norq.HTTP_URL.validate(text)
    assert text not in str(caught.value), "a setting's error never repeats the value"


def test_base_url_drops_the_trailing_slash_and_refuses_a_query() -> None:
    assert norq.BASE_URL.validate("https://api.example.com/v1/") == "https://api.example.com/v1"
    with pytest.raises(ValueError, match="has a query"):
        norq.BASE_URL.validate("https://api.example.com/?key=1")


def test_a_format_annotates_a_config_field() -> None:
    class Config(BaseModel):
        callback: Annotated[str, norq.HTTP_URL]
        phone: Annotated[str, norq.E164] | None = None

    assert Config(callback="https://example.com/cb").callback == "https://example.com/cb"
    with pytest.raises(ValidationError, match=r"phone\n.*is not an E\.164 phone number"):
        Config(callback="https://example.com/cb", phone="0044")


def test_an_email_format_error_gives_email_validators_reason() -> None:
    with pytest.raises(norq.MessageError, match="must have an @-sign"):
        norq.EMAIL.check_recipient("ada")


TABLE = norq.ErrorTable(
    {
        "gone": ("recipient_unreachable", "final"),
        "busy": (norq.ErrorCode.RATE_LIMITED, norq.Disposition.RETRY),
    }
)


def test_an_error_table_gives_each_code_its_meaning_and_unknown_ones_a_default() -> None:
    assert TABLE["busy"] == norq.ErrorMeaning(norq.ErrorCode.RATE_LIMITED, norq.Disposition.RETRY)
    assert TABLE.meaning("melted") == ("rejected", "final")
    assert set(TABLE) == {"gone", "busy"}
    custom = norq.ErrorTable({}, unknown=("provider_unavailable", "retry"))
    assert custom.meaning("melted") == ("provider_unavailable", "retry")


def test_an_error_table_builds_failed_results_and_error_formats() -> None:
    failed = TABLE.failed("gone", "no such device", retry_after=3.0)
    assert (failed.ok, failed.code, failed.disposition) == (False, "recipient_unreachable", "final")
    assert (failed.provider_code, failed.message, failed.retry_after) == (
        "gone",
        "no such device",
        3.0,
    )
    errors = TABLE.error_format(code_path="$.error.reason")
    assert errors.code_path == "$.error.reason"
    assert dict(errors.code_map) == {"gone": "recipient_unreachable", "busy": "rate_limited"}
    assert dict(errors.dispositions) == {"gone": "final", "busy": "retry"}


@pytest.mark.parametrize(
    ("meaning", "problem"),
    [
        (("gone_forever", "final"), "'gone_forever', which is not a norq.ErrorCode"),
        (("rejected", "later"), "disposition 'later'; use one of retry, failover, final"),
    ],
)
def test_an_error_table_with_a_typo_fails_when_it_is_built(
    meaning: tuple[str, str], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        norq.ErrorTable({"X1": meaning})
