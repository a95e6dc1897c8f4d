"""Keeping secrets out of everything a person reads: dry runs, CLI output, logs.

A secret reaches output in more forms than its own: percent- or form-encoded
in a URL or body, JSON-escaped, or base64-encoded inside a ``Basic``
Authorization header that a server echoes back (``base64("user:secret")``).
The redactor masks every one of them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping

MASK = "***"

# Headers whose value is a credential whatever it contains.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token", "cookie"}
)

# A run of base64 characters (standard or URL-safe alphabet, possibly itself
# percent-encoded as in a form body), with its padding.
_BASE64_RUN = re.compile(r"(?:[A-Za-z0-9+/_-]|%2[0BbFf])+(?:=|%3[Dd]){0,2}")
# Where a run may hold a space: "+" in a form body, "%20" percent-encoded.
_SPACE = re.compile(r"(\+|%20)")
# Enough for a form-encoded "Basic+<token>" whose token holds a few "+" itself,
# without letting a long run of pluses cost quadratic time.
_MAX_PIECES = 12


class Redactor:
    """Replaces every known secret value, in any of its encodings, with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing a shorter one is masked whole.
        unique = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(_any_encoding, unique))) if unique else None
        # The base64 of a string holding a secret is at least this long.
        self._shortest_base64 = min((len(s) * 4 // 3 for s in unique), default=0)

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        value = self._pattern.sub(MASK, value)
        return _BASE64_RUN.sub(self._mask_if_it_hides_a_secret, value)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            name: MASK if name.lower() in SECRET_HEADERS else self.text(value)
            for name, value in headers.items()
        }

    def _mask_if_it_hides_a_secret(self, run: re.Match[str]) -> str:
        token = run.group()
        if len(token) < self._shortest_base64:
            return token
        assert self._pattern is not None
        for candidate in _spans(token):
            decoded = _decode_base64(candidate)
            if decoded is not None and self._pattern.search(decoded):
                return MASK
        return token


def _any_encoding(secret: str) -> str:
    """A regular expression matching ``secret`` plain, percent-, form- or JSON-encoded."""
    return "".join(_any_encoding_of_char(char) for char in secret)


def _any_encoding_of_char(char: str) -> str:
    forms = {re.escape(char)}
    # Percent-encoding, with either case of hex digit.
    forms.add(
        "".join(
            "%" + "".join(f"[{d}{d.lower()}]" if d.isalpha() else d for d in f"{byte:02X}")
            for byte in char.encode("utf-8")
        )
    )
    if char == " ":
        forms.add(r"\+")
    for ensure_ascii in (True, False):
        forms.add(re.escape(json.dumps(char, ensure_ascii=ensure_ascii)[1:-1]))
    if char == "/":
        forms.add(re.escape("\\/"))  # JSON may escape a slash
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")"


def _spans(token: str) -> Iterable[str]:
    """The run itself, then every stretch of it between encoded spaces.

    An encoded ``Basic <token>`` arrives as one run (``Basic+<token>``,
    ``Basic%20<token>``); and ``+`` is also a base64 digit, so the token
    itself may hold more of them.
    """
    yield token
    # Pieces at even indexes, the separators between them at odd ones.
    parts = _SPACE.split(token)[: 2 * _MAX_PIECES - 1]
    for start in range(0, len(parts), 2):
        for end in range(start + 1, len(parts) + 1, 2):
            if (start, end) != (0, len(parts)):
                yield "".join(parts[start:end])


def _decode_base64(token: str) -> str | None:
    """The text a base64 run stands for, or None if it is not base64."""
    if "%20" in token:
        return None
    token = re.sub(r"%2[Bb]", "+", token)
    token = re.sub(r"%2[Ff]", "/", token)
    token = re.sub(r"%3[Dd]", "=", token).rstrip("=")
    token = token.replace("-", "+").replace("_", "/")
    if len(token) % 4 == 1:
        return None
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.decode("utf-8", "replace")
