"""The sandbox checks Norq with code of its own: segments, signatures, phone numbers.

Norq's segment calculator and signature code are not the sandbox's, so these
tests compare the two (a disagreement is a bug in one of them) and check the
signer against twilio-python's validator, the reference.
"""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from norq_sandbox.segments import count_parts
from norq_sandbox.signature import twilio_signature
from twilio.request_validator import RequestValidator

from norq.providers.twilio.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments
from tests_sandbox.conftest import send
from tests_sandbox.test_messages_api import error_of

PACKAGE = Path(__file__).resolve().parents[1] / "norq_sandbox"


def test_the_sandbox_borrows_no_checking_code_from_norq() -> None:
    imported = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert {name for name in imported if name.startswith("norq.")} == set()


GSM = "".join(sorted(GSM7_BASIC | GSM7_EXTENSION))
texts = st.one_of(
    st.text(alphabet=GSM, max_size=700),
    st.text(alphabet=GSM + "ж€😀ü\u00a0", max_size=400),
    st.text(max_size=300),
)


@given(texts)
def test_segments_agree_with_norqs_independent_count(text: str) -> None:
    assert count_parts(text) == count_segments(text)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # an extension character is two septets
        ("€" * 81, 2),
        ("a" * 152 + "€" + "a" * 152, 3),  # 306 septets, but the escape is never split
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("😀" * 35, 1),  # a surrogate pair is two UTF-16 code units
        ("ж" * 66 + "😀" + "ж" * 66, 3),  # 134 units, but the pair is never split
    ],
)
def test_parts_follow_the_gsm_and_ucs2_capacities(text: str, parts: int) -> None:
    assert count_parts(text) == parts


def test_a_requested_encoding_overrides_the_text() -> None:
    assert count_parts("a" * 100, "ucs2") == 2
    assert count_parts("ж" * 100, "gsm7") == 1


@given(
    st.text(min_size=1, max_size=40),
    st.lists(
        st.tuples(st.text(max_size=10), st.text(max_size=20)),
        max_size=8,
        unique_by=lambda pair: pair[0],
    ),
)
def test_the_signature_is_what_twilios_validator_accepts(
    token: str, fields: list[tuple[str, str]]
) -> None:
    url = "https://hooks.example.com/twilio/status?x=1"
    signature = twilio_signature(token, url, fields)
    assert RequestValidator(token).validate(url, dict(fields), signature)


@pytest.mark.parametrize(
    "to",
    [
        "+1５５５８６７５３１０",  # fullwidth digits
        "+١٥٥٥٨٦٧٥٣١٠",  # Arabic-Indic digits
        "+15558675310\n",
    ],
)
def test_a_recipient_with_anything_but_ascii_digits_answers_21211(
    api: httpx.Client, to: str
) -> None:
    assert error_of(send(api, To=to)) == (400, 21211)


@pytest.mark.parametrize("period", ["６０", " 60", "6_0"])
def test_a_validity_period_is_ascii_digits(api: httpx.Client, period: str) -> None:
    assert error_of(send(api, ValidityPeriod=period)) == (400, 90007)
