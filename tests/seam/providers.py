"""Two providers written as a plugin author would, against norq's public API only.

``chirp`` is shaped like Vonage's SMS API: it always answers HTTP 200 and says
inside the body whether the message was taken, so it reads its own answer
(``read_send``) and chooses a disposition per status code. ``parcel`` is shaped
like SendGrid's mail API: JSON in, ``202`` with an empty body, the id in the
``X-Message-Id`` header, a rate-limit reset header; it only declares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import SecretStr

import norq

# Chirp's status codes: what they mean, and what to do when the table's
# default for that meaning is wrong for Chirp.
CHIRP_CODES = {
    "1": norq.ErrorCode.RATE_LIMITED,  # throttled
    "3": norq.ErrorCode.INVALID_MESSAGE,  # invalid parameters
    "4": norq.ErrorCode.INVALID_CREDENTIALS,
    "5": norq.ErrorCode.PROVIDER_UNAVAILABLE,
    "6": norq.ErrorCode.INVALID_RECIPIENT,  # unroutable number
    "9": norq.ErrorCode.RATE_LIMITED,  # account quota exhausted
}
CHIRP_DISPOSITIONS = {
    "1": norq.Disposition.RETRY,
    "9": norq.Disposition.FAILOVER,  # waiting will not refill the quota
    "3": norq.Disposition.FINAL,
}


class ChirpConfig(norq.ProviderConfig):
    base_url: str = "https://rest.chirp.test"
    api_key: str
    api_secret: SecretStr
    sender: str = "Norq"


class ChirpProvider(norq.Provider[ChirpConfig]):
    """SMS through an API that reports failure inside a 200 body."""

    name = "chirp"
    channels = frozenset({"sms"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"sms": norq.E164}

    def __init__(self, config: ChirpConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._url = f"{config.base_url}/sms/json"
        self._credentials = (
            ("api_key", config.api_key),
            ("api_secret", config.api_secret.get_secret_value()),
            ("from", config.sender),
        )

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=self._url,
            form=(*self._credentials, ("to", message.to.lstrip("+")), ("text", message.body or "")),
            success_statuses=frozenset({200}),
            retry=self.retry,
        )

    def read_send(self, request: Any, response: norq.Response) -> norq.SendResult:
        if response.status != 200:
            return super().read_send(request, response)  # HTTP errors: the declared reading
        try:
            first = json.loads(response.body)["messages"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            return norq.SendResult.failed("bad_response", f"unreadable answer: {response.body!r}")
        status = str(first.get("status"))
        if status == "0":
            message_id = first.get("message-id")
            if not message_id:
                return norq.SendResult.failed("bad_response", "status 0 without a message-id")
            return norq.SendResult.accepted(str(message_id))
        return norq.SendResult.failed(
            CHIRP_CODES.get(status, norq.ErrorCode.REJECTED),
            first.get("error-text") or f"status {status}",
            provider_code=status,
            disposition=CHIRP_DISPOSITIONS.get(status),
        )


class ParcelConfig(norq.ProviderConfig):
    base_url: str = "https://api.parcel.test"
    api_key: SecretStr
    sender: str


PARCEL_ERRORS = norq.ErrorFormat(
    code_path=None,
    message_path="$.errors[0].message",
    reset_header="X-RateLimit-Reset",  # Unix time
)


class ParcelProvider(norq.Provider[ParcelConfig]):
    """Email through a JSON API that answers 202 with the id in a header."""

    name = "parcel"
    channels = frozenset({"email"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"email": norq.EMAIL}
    message_fields = frozenset({"subject"})

    def __init__(self, config: ParcelConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._url = f"{config.base_url}/v3/mail/send"
        self._headers = (("Authorization", f"Bearer {config.api_key.get_secret_value()}"),)

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=self._url,
            headers=self._headers,
            json={
                "personalizations": [{"to": [{"email": message.to}]}],
                "from": {"email": self.config.sender},
                "subject": str(message.fields.get("subject", "")),
                "content": [{"type": "text/plain", "value": message.body}],
            },
            success_statuses=frozenset({202}),
            message_id_header="X-Message-Id",
            retry=self.retry,
            errors=PARCEL_ERRORS,
        )


class SeamProviders:
    """The plugin: registers both providers through the public hook."""

    @norq.hookimpl
    def register_providers(self, register: norq.Register) -> None:
        register(ChirpProvider)
        register(ParcelProvider)
