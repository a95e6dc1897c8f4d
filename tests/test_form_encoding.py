"""The executor's form encoder is a faster ``urlencode``: it must give the very same bytes."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from norq.request import encode_form

# Surrogates cannot be encoded at all; urlencode raises for them too.
text = st.text(st.characters(exclude_categories=("Cs",)))


@given(st.lists(st.tuples(text, text)))
def test_form_encoding_matches_urlencode(pairs: list[tuple[str, str]]) -> None:
    assert encode_form(tuple(pairs)) == urlencode(pairs)


def test_spaces_plus_signs_and_unicode_are_escaped_like_urlencode() -> None:
    pairs = (("To", "+15551234567"), ("Body", "Héllo wörld & 100% ✓"), ("MediaUrl", "a/b?c=d"))
    assert encode_form(pairs) == urlencode(pairs)
    assert encode_form(pairs).startswith("To=%2B15551234567&Body=H%C3%A9llo+w")


def test_non_string_values_fall_back_to_urlencode() -> None:
    pairs = (("ValidityPeriod", 3600), ("Flag", b"x y"))
    assert encode_form(pairs) == urlencode(pairs)  # type: ignore[arg-type]
