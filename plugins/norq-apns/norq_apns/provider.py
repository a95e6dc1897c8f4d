"""APNs as prepared requests: ``POST /3/device/<token>`` over HTTP/2 with a provider token.

``prepare_send`` only describes the request; it names the ``http2``
transport (APNs speaks nothing else) and the instance's
:class:`~norq_apns.credentials.ProviderToken`, which Norq's executor mints,
shares across threads and event loops, renews before the hour is out and
once when APNs answers ``ExpiredProviderToken``, and never shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import norq
from norq_apns.config import ApnsConfig
from norq_apns.credentials import ProviderToken
from norq_apns.errors import APNS_ERROR_FORMAT
from norq_apns.messages import DEVICE_TOKEN, MESSAGE_FIELDS, check, headers, payload

ANSWERED = frozenset({200})


class ApnsProvider(norq.Provider[ApnsConfig]):
    """Push to Apple devices; the receipt id is the apns-id APNs answers with."""

    name = "apns"
    channels = frozenset({"push"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"push": DEVICE_TOKEN}
    description = "Apple Push Notification service over HTTP/2 with a .p8 signing key"
    message_fields: ClassVar[frozenset[str]] = MESSAGE_FIELDS

    def __init__(self, config: ApnsConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._key = config.signing_key()
        self._url = f"{config.url}/3/device/"
        self._token = ProviderToken(self._key, config.key_id, config.team_id)

    def secret_values(self) -> list[str]:
        # The key may come from a file, which the config's own secrets do not cover.
        return [*super().secret_values(), self._key]

    def check_message(self, message: norq.Message) -> None:
        check(message)

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=self._url + message.to,
            headers=headers(message, self.config.topic),
            json=payload(message),
            token=self._token,
            success_statuses=ANSWERED,
            message_id_header="apns-id",
            retry=self.retry,
            errors=APNS_ERROR_FORMAT,
            transport="http2",
        )
