"""How many SMS segments a body takes, as carriers count them.

A body that fits the GSM 03.38 alphabet travels as GSM-7: 160 septets in one
segment, or 153 per segment once it is split (the rest of each segment is the
concatenation header). The extension characters (``^{}\\[~]|€`` and form
feed) are sent behind an escape, so they take two septets each, and the two
halves of one are never split across segments. Any other character forces
UCS-2 for the whole body: 70 UTF-16 code units in one segment, 67 per segment
when split, and a surrogate pair (most emoji) is never split either.

Twilio's *smart encoding* swaps common Unicode look-alikes (curly quotes,
dashes, the ellipsis, odd spaces) for GSM-7 characters before counting, so
``segment_info(body, smart_encoded=True)`` counts the body Twilio would send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_CONCATENATED = 160, 153
UCS2_SINGLE, UCS2_CONCATENATED = 70, 67

# The replacements smart encoding is documented to make: look-alikes of
# characters GSM-7 has. Each maps to a GSM-7 string.
SMART_REPLACEMENTS: dict[str, str] = {
    "\u00a0": " ",  # no-break space
    "\u2000": " ",
    "\u2001": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2004": " ",
    "\u2005": " ",
    "\u2006": " ",
    "\u2007": " ",
    "\u2008": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u205f": " ",
    "\u3000": " ",
    "\u200b": "",  # zero-width space
    "\u2060": "",  # word joiner
    "\ufeff": "",  # byte-order mark
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",
    "\u2212": "-",  # minus sign
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u02bc": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2039": "<",
    "\u203a": ">",
    "\u2026": "...",  # ellipsis
    "\u2022": "-",  # bullet
    "\u00b7": ".",
    "\u2024": ".",
    "\u02c6": "^",
    "\u02dc": "~",
    "\u2044": "/",
    "\u2215": "/",
    "\uff0c": ",",
    "\uff1a": ":",
    "\uff1b": ";",
    "\uff01": "!",
    "\uff1f": "?",
}
_SMART_TABLE = str.maketrans(SMART_REPLACEMENTS)


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """How a body is encoded and split.

    ``characters`` counts characters as a person does; ``units`` counts what
    the encoding spends (septets for GSM-7, UTF-16 code units for UCS-2).
    ``per_segment`` is the capacity of each segment in those units.
    """

    encoding: Encoding
    segments: int
    characters: int
    units: int
    per_segment: int


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` has a GSM-7 encoding."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def smart_encode(text: str) -> str:
    """``text`` with the Unicode look-alikes smart encoding replaces swapped for GSM-7."""
    return text.translate(_SMART_TABLE)


def segment_info(body: str, *, smart_encoded: bool = False) -> SegmentInfo:
    """Encoding, segment count and sizes of ``body`` (after smart encoding if asked)."""
    if smart_encoded:
        body = smart_encode(body)
    encoding: Encoding
    if is_gsm7(body):
        widths = [2 if char in GSM7_EXTENSION else 1 for char in body]
        single, split, encoding = GSM7_SINGLE, GSM7_CONCATENATED, "GSM-7"
    else:
        widths = [2 if ord(char) > 0xFFFF else 1 for char in body]
        single, split, encoding = UCS2_SINGLE, UCS2_CONCATENATED, "UCS-2"
    units = sum(widths)
    if units <= single:
        return SegmentInfo(encoding, 1, len(body), units, single)
    return SegmentInfo(encoding, _pack(widths, split), len(body), units, split)


def count_segments(body: str, *, smart_encoded: bool = False) -> int:
    """The number of SMS segments ``body`` is sent as."""
    return segment_info(body, smart_encoded=smart_encoded).segments


def _pack(widths: list[int], capacity: int) -> int:
    # Fill segments in order; a two-unit character that does not fit whole
    # starts the next segment, as the escape or surrogate pair must stay together.
    segments, used = 1, 0
    for width in widths:
        if used + width > capacity:
            segments += 1
            used = 0
        used += width
    return segments
