"""A recipient on ``push``: a browser's push subscription, as ``PushSubscription.toJSON()`` has it.

``{"endpoint": "https://...", "keys": {"p256dh": "...", "auth": "..."}}``:
the push service's URL for this one browser, the browser's P-256 public key
and its 16-byte authentication secret (both base64url), which the payload is
encrypted for (RFC 8291). The page sends it to the server as JSON; Norq takes
that text unchanged as the address, checked here before any request.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import norq

#: An uncompressed P-256 point: 0x04, then x and y.
PUBLIC_KEY_BYTES = 65
AUTH_SECRET_BYTES = 16


@dataclass(frozen=True, slots=True, repr=False)
class Subscription:
    """One browser's push subscription: where to send and whom to encrypt for."""

    endpoint: str
    p256dh: bytes = field(compare=False)
    auth: bytes = field(compare=False)

    @property
    def audience(self) -> str:
        """The push service's origin: the ``aud`` of the VAPID token it gets."""
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc}"

    def __repr__(self) -> str:
        return f"<Subscription at {self.audience}>"

    @classmethod
    def parse(cls, text: str) -> Subscription:
        """The subscription in ``text``; a ``ValueError`` naming what is wrong (never a key)."""
        try:
            data: Any = json.loads(text)
        except ValueError:
            raise ValueError(
                "it is not JSON: give the browser's subscription as JSON.stringify(subscription) "
                "wrote it"
            ) from None
        if not isinstance(data, dict):
            raise ValueError('it is not a JSON object with "endpoint" and "keys"')
        endpoint = data.get("endpoint")
        if not isinstance(endpoint, str):
            raise ValueError('it has no "endpoint" (the push service\'s URL)')
        try:
            norq.HTTP_URL.validate(endpoint)
        except ValueError as exc:
            raise ValueError(f"its endpoint {exc}") from None
        keys = data.get("keys")
        if not isinstance(keys, dict):
            raise ValueError('it has no "keys" with p256dh and auth')
        p256dh = _key(keys, "p256dh", PUBLIC_KEY_BYTES)
        if p256dh[0] != 4:
            raise ValueError("its keys.p256dh is not an uncompressed P-256 point")
        _check_point(p256dh)
        return cls(endpoint, p256dh, _key(keys, "auth", AUTH_SECRET_BYTES))


def _key(keys: dict[str, Any], name: str, size: int) -> bytes:
    value = keys.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"it has no keys.{name}")
    try:
        decoded = b64url_decode(value)
    except (binascii.Error, ValueError):
        raise ValueError(f"its keys.{name} is not base64url") from None
    if len(decoded) != size:
        raise ValueError(f"its keys.{name} is {len(decoded)} bytes, not {size}")
    return decoded


def _check_point(p256dh: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise ValueError("its keys.p256dh is not a point on P-256") from None


def b64url_decode(text: str) -> bytes:
    """Base64url with or without padding (browsers write it without; some tools with, or
    use the standard alphabet). Any other character is a ``binascii.Error``."""
    stripped = text.strip().rstrip("=").replace("+", "-").replace("/", "_")
    return base64.b64decode(stripped + "=" * (-len(stripped) % 4), altchars=b"-_", validate=True)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _subscription(text: str) -> str:
    Subscription.parse(text)
    return text


#: A Web Push subscription's JSON text.
SUBSCRIPTION = norq.AddressFormat(
    "a Web Push subscription (the JSON of the browser's PushSubscription)",
    '{"endpoint": "https://push.example.net/s/abc", "keys": {"p256dh": "B...", "auth": "..."}}',
    _subscription,
)
