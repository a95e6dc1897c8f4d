"""Which Vonage ``type`` a text needs, and how many SMS parts it becomes.

Vonage sends ``type=text`` in the GSM 03.38 alphabet; a character outside
it arrives garbled unless the message goes as ``type=unicode`` (UCS-2), which
holds fewer characters per part.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

SmsType = Literal["text", "unicode"]

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Sent as an escape plus the character: two septets each.
GSM_EXTENSION = frozenset("^{}\\[~]|€")

_SINGLE = {"text": 160, "unicode": 70}
_CONCATENATED = {"text": 153, "unicode": 67}


class Encoding(NamedTuple):
    type: SmsType
    units: int
    parts: int


def not_gsm(text: str) -> list[str]:
    """The characters of ``text`` that ``type=text`` cannot carry, in order, once each."""
    return list(dict.fromkeys(c for c in text if c not in GSM_BASIC and c not in GSM_EXTENSION))


def encoding(text: str, sms_type: SmsType | None = None) -> Encoding:
    """The type to send ``text`` as (``text`` when GSM holds it) and its size in parts."""
    if sms_type is None:
        sms_type = "unicode" if not_gsm(text) else "text"
    if sms_type == "text":
        units = sum(2 if c in GSM_EXTENSION else 1 for c in text)
    else:
        units = len(text.encode("utf-16-le")) // 2
    if units <= _SINGLE[sms_type]:
        return Encoding(sms_type, units, 1)
    per_part = _CONCATENATED[sms_type]
    return Encoding(sms_type, units, -(-units // per_part))
