"""The segment calculator: GSM-7 versus UCS-2, single versus concatenated sizes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norq.providers.twilio.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SMART_REPLACEMENTS,
    count_segments,
    is_gsm7,
    segment_info,
    smart_encode,
)

GSM_TEXT = st.text(alphabet=sorted(GSM7_BASIC), max_size=1600)
GSM_ANY = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=1600)


@pytest.mark.parametrize(
    ("body", "encoding", "segments"),
    [
        ("", "GSM-7", 1),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),
        ("€" * 81, "GSM-7", 2),
        ("ж" * 70, "UCS-2", 1),
        ("ж" * 71, "UCS-2", 2),
        ("ж" * 134, "UCS-2", 2),
        ("ж" * 135, "UCS-2", 3),
        ("👋" * 35, "UCS-2", 1),
        ("👋" * 36, "UCS-2", 2),
    ],
)
def test_known_sizes(body: str, encoding: str, segments: int) -> None:
    info = segment_info(body)
    assert (info.encoding, info.segments) == (encoding, segments)


def test_one_non_gsm_character_switches_the_whole_body_to_ucs2() -> None:
    assert segment_info("a" * 100 + "ç").encoding == "UCS-2"  # ç is not GSM-7; Ç is
    assert segment_info("a" * 100 + "Ç").encoding == "GSM-7"


def test_an_escaped_character_is_never_split_across_segments() -> None:
    # 152 septets, then a two-septet '€' that does not fit in the first 153.
    body = "a" * 152 + "€" + "a" * 10
    info = segment_info(body)
    assert (info.units, info.segments) == (164, 2)
    assert segment_info("a" * 152 + "€" + "a" * 152).segments == 3


def test_a_surrogate_pair_is_never_split_across_segments() -> None:
    assert segment_info("a" * 66 + "👋" + "a" * 67).segments == 3


def test_characters_and_units_are_reported_separately() -> None:
    info = segment_info("€{}")
    assert (info.characters, info.units, info.per_segment) == (3, 6, 160)


def test_smart_encoding_turns_look_alikes_into_gsm7() -> None:
    body = "“Don’t” – wait…"
    assert segment_info(body).encoding == "UCS-2"
    assert smart_encode(body) == '"Don\'t" - wait...'
    assert segment_info(body, smart_encoded=True).encoding == "GSM-7"


def test_every_smart_replacement_is_gsm7() -> None:
    assert all(is_gsm7(replacement) for replacement in SMART_REPLACEMENTS.values())


@given(GSM_TEXT)
def test_plain_gsm_bodies_follow_160_153(body: str) -> None:
    expected = 1 if len(body) <= 160 else math.ceil(len(body) / 153)
    assert count_segments(body) == expected


@given(GSM_ANY)
def test_gsm_segments_fit_their_septets(body: str) -> None:
    info = segment_info(body)
    assert info.encoding == "GSM-7"
    assert info.units == len(body) + sum(char in GSM7_EXTENSION for char in body)
    assert info.segments >= math.ceil(info.units / info.per_segment) if info.units else True
    # Splitting an escape pair costs at most one spare septet per segment.
    assert info.segments <= max(1, math.ceil(info.units / 152))


@given(st.text(min_size=1, max_size=800).filter(lambda text: not is_gsm7(text)))
def test_ucs2_segments_count_utf16_units(body: str) -> None:
    info = segment_info(body)
    units = len(body.encode("utf-16-le")) // 2
    assert (info.encoding, info.units) == ("UCS-2", units)
    if units <= 70:
        assert info.segments == 1
    else:
        assert math.ceil(units / 67) <= info.segments <= math.ceil(units / 66)


@given(st.text(max_size=400))
def test_more_text_never_needs_fewer_segments(body: str) -> None:
    assert count_segments(body + "a") >= count_segments(body)
