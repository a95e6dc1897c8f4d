"""SMS parts, counted the sandbox's own way (3GPP TS 23.038), to check Norq's count.

Norq's Twilio provider has its own segment calculator; the sandbox does not
borrow it, so a bug there shows up as a difference here. A body is GSM-7 when
every character is in the default alphabet or its extension table (an
extension character is an escape plus a septet: two septets, never split
between parts); otherwise it is UCS-2, counted in UTF-16 code units (a
surrogate pair is never split either). One part holds 160 septets or 70 code
units; a concatenated part loses room to its header and holds 153 or 67.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Encoding = Literal["gsm7", "ucs2"]

# The GSM 03.38 default alphabet, in code order 0x00-0x7F (0x1B is the escape,
# left out: it is not a character of its own).
_DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ"
    "\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
).replace("\x1b", "")
# The extension table's characters, each sent as ESC + one septet.
_EXTENSION = "\f^{}\\[~]|€"

SEPTETS = {char: 1 for char in _DEFAULT_ALPHABET} | {char: 2 for char in _EXTENSION}
CAPACITY: dict[Encoding, tuple[int, int]] = {"gsm7": (160, 153), "ucs2": (70, 67)}


def encoding_for(text: str) -> Encoding:
    """GSM-7 if every character of ``text`` has a septet encoding, else UCS-2."""
    return "gsm7" if all(char in SEPTETS for char in text) else "ucs2"


def units(text: str, encoding: Encoding) -> list[int]:
    """What each character of ``text`` costs in ``encoding``: septets or UTF-16 code units.

    A character GSM-7 has no septet for counts as one: a provider told to send
    it as text substitutes a single character for it.
    """
    if encoding == "gsm7":
        return [SEPTETS.get(char, 1) for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def count_parts(text: str, encoding: Encoding | None = None) -> int:
    """How many SMS parts ``text`` takes in ``encoding`` (chosen from the text if None)."""
    chosen = encoding or encoding_for(text)
    costs = units(text, chosen)
    single, concatenated = CAPACITY[chosen]
    if sum(costs) <= single:
        return 1
    return _parts(costs, concatenated)


def _parts(costs: Iterable[int], room: int) -> int:
    parts, used = 1, 0
    for cost in costs:
        # A two-unit character that does not fit whole starts the next part.
        if used + cost > room:
            parts, used = parts + 1, 0
        used += cost
    return parts
