"""Twilio's ``X-Twilio-Signature``: compute it and check it, exactly as Twilio does.

Twilio signs a webhook with an HMAC (SHA-1 by default, SHA-256 when the
request's ``X-Twilio-Webhooks-Signature-Settings`` header says
``algorithm=HMAC_SHA256``) over the full URL it requested followed by every
POST parameter as name+value, sorted by name and then by value. A JSON body is
not signed that way: the URL then carries a ``bodySHA256`` query parameter
(the hex SHA-256 of the body), and the signature covers the URL alone.

The check accepts exactly what twilio-python's ``RequestValidator`` (9.13)
accepts: a parameter repeated with the same value counts once, and the URL is
tried with its port removed and with the scheme's default port added, since
Twilio's signing has differed there over time and proxies add or strip ports.
One deliberate difference: for a URL with user info *and* a port
(``https://user:pw@host:8443/``) the validator cuts the host at the first
colon (``https://user/``); Norq removes only the port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import ParseResult, parse_qs, urlparse

Params = Mapping[str, str] | Iterable[tuple[str, str]]

HMAC_SHA1 = "HMAC_SHA1"
HMAC_SHA256 = "HMAC_SHA256"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"

_HASHES = {HMAC_SHA1: hashlib.sha1, HMAC_SHA256: hashlib.sha256}
SUPPORTED_ALGORITHMS = frozenset(_HASHES)


class UnsupportedAlgorithm(ValueError):
    """A signature algorithm that neither Twilio's validator nor Norq knows."""


def signature_algorithm(settings_header: str | None) -> str:
    """The algorithm named by an ``X-Twilio-Webhooks-Signature-Settings`` header.

    The header reads ``key=<shared key id>,algorithm=HMAC_SHA256``; without it,
    or without an ``algorithm=`` part, Twilio signed with HMAC_SHA1.
    """
    for part in (settings_header or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            return value.strip()
    return HMAC_SHA1


def compute_signature(
    auth_token: str, url: str, params: Params = (), *, algorithm: str = HMAC_SHA1
) -> str:
    """The base64 HMAC Twilio would send for a request to ``url`` with ``params``.

    Raises :class:`UnsupportedAlgorithm` for an algorithm other than
    ``HMAC_SHA1`` or ``HMAC_SHA256``.
    """
    hash_function = _HASHES.get(algorithm.upper())
    if hash_function is None:
        raise UnsupportedAlgorithm(
            f"unsupported Twilio signature algorithm {algorithm!r}; "
            f"use {HMAC_SHA1} or {HMAC_SHA256}"
        )
    pairs = params.items() if isinstance(params, Mapping) else params
    # A repeated name with the same value is signed once, as Twilio's validator does.
    payload = url + "".join(name + value for name, value in sorted(set(pairs)))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hash_function)
    return base64.b64encode(digest.digest()).decode("ascii")


def url_variants(url: str) -> list[str]:
    """The two forms of ``url`` a signature is checked against: without and with a port.

    The first has any port removed; the second keeps an explicit port or adds
    the scheme's default (443 for https, 80 otherwise). Both are normalised
    the way ``urlparse(url).geturl()`` does, as Twilio's validator does.
    Raises ``ValueError`` for a URL whose port is not a number in 0-65535.
    """
    parts = urlparse(url)
    port = parts.port
    if not port:
        without_port = parts.geturl()
        default = 443 if parts.scheme == "https" else 80
        with_port = parts._replace(netloc=f"{parts.netloc}:{default}").geturl()
        return [without_port, with_port]
    return [_without_port(parts), parts.geturl()]


def _without_port(parts: ParseResult) -> str:
    # The port is what follows the netloc's last colon (user info and IPv6
    # literals come before it).
    return parts._replace(netloc=parts.netloc.rpartition(":")[0]).geturl()


def is_valid_signature(
    auth_token: str,
    url: str,
    signature: str | None,
    params: Params = (),
    *,
    body: bytes | None = None,
    algorithm: str = HMAC_SHA1,
) -> bool:
    """Whether ``signature`` is Twilio's for this request; constant-time comparison.

    Pass ``params`` for a form-encoded POST. For a JSON body pass the raw
    ``body``: the URL must then carry a matching ``bodySHA256`` parameter.
    ``algorithm`` is what :func:`signature_algorithm` read from the request's
    ``X-Twilio-Webhooks-Signature-Settings`` header; an unknown one never verifies.
    """
    if not signature or not auth_token or algorithm.upper() not in _HASHES:
        return False
    try:
        candidates = url_variants(url)
    except ValueError:
        return False
    if body is not None:
        declared = parse_qs(urlparse(url).query).get("bodySHA256")
        if not declared:
            return False
        if not _same(hashlib.sha256(body).hexdigest(), declared[0]):
            return False
        pairs: list[tuple[str, str]] = []
    else:
        pairs = list(params.items() if isinstance(params, Mapping) else params)
    valid = False
    for candidate in candidates:
        expected = compute_signature(auth_token, candidate, pairs, algorithm=algorithm)
        # Check every variant so the time taken does not depend on which matched.
        valid |= _same(expected, signature)
    return valid


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
