"""Every Vonage status becomes a normalised code and a disposition; answers are read per part."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from norq_vonage import VONAGE_STATUSES, read_answer

import norq
from tests_vonage.conftest import MakeNorq, answer, refused, sent

RETRY, FAILOVER, FINAL = "retry", "failover", "final"

# The table from docs/providers/vonage.md, written out so a change to either shows.
EXPECTED = {
    "1": ("rate_limited", RETRY),
    "2": ("invalid_message", FINAL),
    "3": ("invalid_message", FINAL),
    "4": ("invalid_credentials", FAILOVER),
    "5": ("provider_unavailable", RETRY),
    "6": ("invalid_recipient", FINAL),
    "7": ("recipient_unreachable", FINAL),
    "8": ("permission_denied", FAILOVER),
    "9": ("quota_exceeded", FAILOVER),
    "10": ("provider_unavailable", RETRY),
    "11": ("permission_denied", FAILOVER),
    "12": ("message_too_long", FINAL),
    "14": ("invalid_credentials", FAILOVER),
    "15": ("invalid_sender", FAILOVER),
    "22": ("invalid_message", FINAL),
    "23": ("invalid_message", FINAL),
    "29": ("permission_denied", FAILOVER),
    "32": ("invalid_credentials", FAILOVER),
    "33": ("recipient_unreachable", FINAL),
}


def read(body: object) -> norq.SendResult:
    return read_answer(json.dumps(body).encode())


def test_the_table_covers_exactly_the_documented_statuses() -> None:
    assert set(VONAGE_STATUSES) == set(EXPECTED)


@pytest.mark.parametrize(("status", "expected"), sorted(EXPECTED.items()))
def test_each_status_has_its_code_and_disposition(status: str, expected: tuple[str, str]) -> None:
    result = read(answer(refused(status, "Vonage says no")))
    assert not result.ok
    assert (result.code, result.disposition) == expected
    assert result.provider_code == status
    assert result.message == f"Vonage says no (Vonage status {status})"


def test_an_unknown_status_is_a_final_rejection() -> None:
    result = read(answer(refused("99", "Something new")))
    assert (result.code, result.disposition, result.provider_code) == ("rejected", FINAL, "99")


def test_status_zero_is_accepted_with_the_first_parts_id() -> None:
    result = read(answer(sent("AAAA000000000001"), sent("AAAA000000000002")))
    assert result.ok
    assert result.message_id == "AAAA000000000001"


def test_a_numeric_status_is_read_like_text() -> None:
    assert read(answer({"status": 4, "error-text": "Bad Credentials"})).code == (
        "invalid_credentials"
    )


def test_a_failed_part_among_accepted_ones_is_final_because_parts_went_out() -> None:
    result = read(answer(sent(), refused("1", "Throttled")))
    assert result.code == "rate_limited"
    assert result.disposition == FINAL
    assert "part 2 of 2" in (result.message or "")
    assert "1 other part(s) were accepted" in (result.message or "")


def test_when_every_part_fails_the_first_failure_decides() -> None:
    result = read(answer(refused("1", "Throttled"), refused("1", "Throttled")))
    assert (result.code, result.disposition) == ("rate_limited", RETRY)
    assert "part 1 of 2" in (result.message or "")


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>oops</html>", b"[]", b'{"messages": []}', b'{"messages": "x"}', b'{"a": 1}'],
)
def test_an_answer_without_parts_is_a_bad_response(body: bytes) -> None:
    result = read_answer(body)
    assert (result.code, result.disposition) == ("bad_response", FINAL)


def test_an_accepted_part_without_an_id_is_a_bad_response() -> None:
    result = read(answer({"status": "0"}))
    assert (result.code, result.disposition) == ("bad_response", FINAL)


def test_a_non_200_answer_is_read_by_its_status(make_norq: MakeNorq) -> None:
    provider = make_norq().providers["vonage"]
    request = provider.prepare_send(norq.Message("sms", "+447700900001", "hi"))
    unavailable = provider.read_send(request, norq.Response(503, {}, b"busy"))
    assert (unavailable.code, unavailable.disposition) == ("provider_unavailable", RETRY)
    limited = provider.read_send(request, norq.Response(429, {"retry-after": "3"}, b""))
    assert (limited.code, limited.disposition, limited.retry_after) == ("rate_limited", RETRY, 3)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
parts = st.fixed_dictionaries(
    {},
    optional={
        "status": st.one_of(st.sampled_from(["0", "1", "4", "9", "77"]), json_values),
        "message-id": json_values,
        "error-text": json_values,
    },
)


@given(st.binary(max_size=64) | st.builds(lambda v: json.dumps(v).encode(), json_values))
def test_any_answer_is_read_without_raising(body: bytes) -> None:
    assert isinstance(read_answer(body), norq.SendResult)


@given(st.lists(parts, min_size=1, max_size=4))
def test_ok_means_every_part_accepted_with_an_id(messages: list[dict[str, object]]) -> None:
    result = read_answer(json.dumps({"messages": messages}).encode())
    all_sent = all(str(part.get("status")) == "0" for part in messages)
    first_id = messages[0].get("message-id")
    assert result.ok == (all_sent and isinstance(first_id, str) and bool(first_id))
    if not result.ok:
        assert result.disposition in (RETRY, FAILOVER, FINAL)
