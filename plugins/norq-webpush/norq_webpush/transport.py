"""The ``webpush`` transport: encrypts each push for its subscription, then sends it over HTTP.

RFC 8291 needs a fresh key pair and salt for every message, so encryption
cannot be in ``prepare_send`` (pure: no randomness) and a dry run would be
unreadable if it were. The provider describes the plaintext in a
:class:`WebPushRequest`; this transport, the one place where a push is put
on the wire, encrypts it (``aes128gcm``, with http_ece) and hands it to
Norq's own HTTP transport. Each attempt, retries included, is encrypted
afresh.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec

import norq
from norq_webpush.subscription import Subscription

#: One record holds the whole message (RFC 8291, section 4): 4096 is above any payload's size.
RECORD_SIZE = 4096


@dataclass(frozen=True, slots=True, repr=False)
class WebPushRequest(norq.PreparedRequest):
    """A push described in plain text, and the subscription it is encrypted for when sent."""

    subscription: Subscription | None = None


def encrypt(request: WebPushRequest) -> norq.PreparedRequest:
    """``request`` with its body encrypted for its subscription (RFC 8291), as it goes out."""
    subscription = request.subscription
    if subscription is None or request.content is None:
        raise TypeError(
            "the webpush transport sends a WebPushRequest with a subscription and content"
        )
    body = http_ece.encrypt(
        request.content,
        salt=os.urandom(16),
        private_key=ec.generate_private_key(ec.SECP256R1()),
        dh=subscription.p256dh,
        auth_secret=subscription.auth,
        version="aes128gcm",
        rs=RECORD_SIZE,
    )
    return replace(request, content=body)


class WebPushTransport:
    """Encrypts, then sends through one :class:`norq.HttpTransport` of its own (pooled)."""

    def __init__(self, settings: norq.TransportSettings) -> None:
        self._http = norq.HttpTransport(settings)

    def send(self, request: WebPushRequest) -> norq.Response | norq.TransportFailure:
        return self._http.send(encrypt(request))

    async def asend(self, request: WebPushRequest) -> norq.Response | norq.TransportFailure:
        return await self._http.asend(encrypt(request))

    def close(self) -> None:
        self._http.close()

    async def aclose(self) -> None:
        await self._http.aclose()
