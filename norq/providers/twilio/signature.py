"""Twilio's ``X-Twilio-Signature``: compute it and check it, exactly as Twilio does.

Twilio signs a webhook with HMAC-SHA1, keyed by the account's auth token, over
the full URL it requested followed by every POST parameter as name+value,
sorted by name. A JSON body is not signed that way: the URL then carries a
``bodySHA256`` query parameter (the hex SHA-256 of the body), and the
signature covers the URL alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

Params = Mapping[str, str] | Iterable[tuple[str, str]]

_DEFAULT_PORTS = {"https": 443, "http": 80}


def compute_signature(auth_token: str, url: str, params: Params = ()) -> str:
    """The base64 HMAC-SHA1 Twilio would send for a request to ``url`` with ``params``."""
    pairs = params.items() if isinstance(params, Mapping) else params
    payload = url + "".join(name + value for name, value in sorted(pairs))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> list[str]:
    """The URL as given plus its twin with the default port added or removed.

    Twilio has signed with and without the port over the years, and proxies
    may add or strip it, so a receiver accepts either form.
    """
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    if default is None or parts.hostname is None:
        return [url]
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port is None:
        twin = parts._replace(netloc=f"{prefix}{host}:{default}")
    elif parts.port == default:
        twin = parts._replace(netloc=f"{prefix}{host}")
    else:
        return [url]
    return [url, urlunsplit(twin)]


def is_valid_signature(
    auth_token: str,
    url: str,
    signature: str | None,
    params: Params = (),
    *,
    body: bytes | None = None,
) -> bool:
    """Whether ``signature`` is Twilio's for this request; constant-time comparison.

    Pass ``params`` for a form-encoded POST. For a JSON body pass the raw
    ``body``: the URL must then carry a matching ``bodySHA256`` parameter.
    """
    if not signature or not auth_token:
        return False
    if body is not None:
        query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        expected_hash = query.get("bodySHA256")
        if expected_hash is None:
            return False
        actual_hash = hashlib.sha256(body).hexdigest()
        if not hmac.compare_digest(expected_hash.lower(), actual_hash):
            return False
        params = ()
    else:
        params = list(params.items() if isinstance(params, Mapping) else params)
    valid = False
    for candidate in url_variants(url):
        expected = compute_signature(auth_token, candidate, params)
        # Check every variant so the time taken does not depend on which matched.
        valid |= hmac.compare_digest(expected, signature)
    return valid
