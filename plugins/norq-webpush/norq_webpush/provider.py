"""Web Push as prepared requests: the push in plain text, for the ``webpush`` transport to encrypt.

``prepare_send`` describes the message: ``POST`` to the subscription's
endpoint with RFC 8030's ``TTL`` (and ``Urgency``, ``Topic``), the
``aes128gcm`` content coding, the plaintext payload, and ``token=`` naming
the :class:`~norq_webpush.vapid.VapidToken` for that push service. The
executor signs the VAPID token (once per push service, shared by every
thread and event loop), and the ``webpush`` transport encrypts each attempt
for the subscription's keys. A dry run shows the plaintext and
``Authorization: ***``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from cryptography.hazmat.primitives import serialization

import norq
from norq_webpush.config import WebPushConfig, read_private_key
from norq_webpush.errors import WEBPUSH_ERRORS
from norq_webpush.messages import MESSAGE_FIELDS, check, headers, payload_bytes
from norq_webpush.subscription import SUBSCRIPTION, Subscription, b64url
from norq_webpush.transport import WebPushRequest
from norq_webpush.vapid import VapidToken

#: The body is encrypted (RFC 8291): a push service sees only bytes.
ENCRYPTED = (("Content-Type", "application/octet-stream"), ("Content-Encoding", "aes128gcm"))


class WebPushProvider(norq.Provider[WebPushConfig]):
    """Push to browsers through their push service; the receipt id is the message's Location."""

    name = "webpush"
    channels = frozenset({"push"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"push": SUBSCRIPTION}
    description = "Web Push (RFC 8030) with VAPID and aes128gcm payload encryption"
    message_fields: ClassVar[frozenset[str]] = MESSAGE_FIELDS

    def __init__(self, config: WebPushConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._key_text = config.private_key_text()
        self._vapid = read_private_key(self._key_text)
        point = self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        #: The applicationServerKey a page subscribes with (base64url).
        self.public_key = b64url(point)

    def secret_values(self) -> list[str]:
        # The key may come from a file, which the config's own secrets do not cover.
        return [*super().secret_values(), self._key_text.strip()]

    def check_message(self, message: norq.Message) -> None:
        check(message)

    def prepare_send(self, message: norq.Message) -> WebPushRequest:
        subscription = Subscription.parse(message.to)
        config = self.config
        return WebPushRequest(
            method="POST",
            url=subscription.endpoint,
            headers=(*headers(message, config.ttl, config.urgency), *ENCRYPTED),
            content=payload_bytes(message),
            token=VapidToken(subscription.audience, config.subject, self.public_key, self._vapid),
            retry=self.retry,
            transport="webpush",
            subscription=subscription,
        )

    def read_send(self, request: Any, response: norq.Response) -> norq.SendResult:
        if 200 <= response.status < 300:
            # RFC 8030: 201 Created, with the push message's URL in Location.
            return norq.SendResult.accepted(
                response.header("location") or response.header("apns-id")
            )
        result = super().read_send(request, response)
        status = str(response.status)
        if status not in WEBPUSH_ERRORS:
            return result
        return WEBPUSH_ERRORS.failed(
            status,
            f"push service: {result.message}",
            retry_after=result.retry_after,
            retry_at=result.retry_at,
        )
