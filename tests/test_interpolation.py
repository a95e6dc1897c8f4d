from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norq.interpolation import InterpolationError, interpolate


def test_variable_is_substituted() -> None:
    assert interpolate("key=${TOKEN}", {"TOKEN": "abc"}) == "key=abc"


def test_default_used_when_variable_unset() -> None:
    assert interpolate("${REGION:-us1}", {}) == "us1"


def test_default_used_when_variable_empty() -> None:
    assert interpolate("${REGION:-us1}", {"REGION": ""}) == "us1"


def test_empty_default_is_allowed() -> None:
    assert interpolate("a${X:-}b", {}) == "ab"


def test_escaped_reference_is_literal() -> None:
    assert interpolate("$${HOME}", {"HOME": "/root"}) == "${HOME}"


def test_value_from_environment_is_not_interpolated_again() -> None:
    secret = "p@$${X}${Y}$$"
    assert interpolate("${SECRET}", {"SECRET": secret, "X": "no", "Y": "no"}) == secret


def test_missing_variable_names_it_and_suggests_default() -> None:
    with pytest.raises(InterpolationError, match=r"TWILIO_TOKEN is not set.*\$\{TWILIO_TOKEN:-"):
        interpolate("${TWILIO_TOKEN}", {})


@pytest.mark.parametrize("text", ["${", "${1ABC}", "${A-B}", "x ${ unterminated"])
def test_malformed_reference_is_an_error(text: str) -> None:
    with pytest.raises(InterpolationError, match="malformed reference"):
        interpolate(text, {})


def test_lone_dollar_signs_are_literal() -> None:
    assert interpolate("costs $5 or $$10", {}) == "costs $5 or $$10"


@given(st.text().filter(lambda t: "${" not in t))
def test_text_without_references_is_unchanged(text: str) -> None:
    assert interpolate(text, {}) == text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_environment_values_arrive_verbatim(value: str) -> None:
    assert interpolate("<${V}>", {"V": value}) == f"<{value}>"


@given(st.text().filter(lambda t: "}" not in t and "$" not in t))
def test_escaping_round_trips(inner: str) -> None:
    assert interpolate("$${" + inner + "}", {}) == "${" + inner + "}"
