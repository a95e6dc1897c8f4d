"""A form body is exactly what ``urllib.parse.urlencode`` makes of the pairs, in order."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st

from norq.request import PreparedRequest

# Surrogates cannot be encoded at all; urlencode raises for them too.
text = st.text(st.characters(exclude_categories=("Cs",)))


def form_body(pairs: tuple[tuple[str, str], ...]) -> bytes:
    body = PreparedRequest(method="POST", url="https://api.test/", form=pairs).body_bytes()
    assert body is not None
    return body


@given(st.lists(st.tuples(text, text)))
def test_form_body_decodes_back_to_the_same_pairs(pairs: list[tuple[str, str]]) -> None:
    body = form_body(tuple(pairs)).decode("ascii")
    assert parse_qsl(body, keep_blank_values=True) == pairs


def test_spaces_plus_signs_and_unicode_are_escaped() -> None:
    pairs = (("To", "+15551234567"), ("Body", "Héllo wörld & 100% ✓"))
    assert form_body(pairs) == b"To=%2B15551234567&Body=H%C3%A9llo+w%C3%B6rld+%26+100%25+%E2%9C%93"
