"""Keeping secrets out of everything a person reads: dry runs, CLI output, logs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

MASK = "***"

# Headers whose value is a credential whatever it contains.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token", "cookie"}
)


class Redactor:
    """Replaces every known secret value with ``***`` in text and headers."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # A secret may also appear percent-encoded in a form body or URL.
        variants = {v for s in secrets if s for v in (s, quote(s, safe=""), quote_plus(s))}
        # Longest first, so a secret containing a shorter one is masked whole.
        self._secrets = sorted(variants, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            name: MASK if name.lower() in SECRET_HEADERS else self.text(value)
            for name, value in headers.items()
        }
