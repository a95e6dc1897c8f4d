"""FCM's HTTP v1 ``messages:send`` as prepared requests, with an OAuth2 token the executor keeps.

``prepare_send`` only describes the request: the URL and the message's JSON,
and ``token=`` naming the instance's :class:`~norq_fcm.credentials.GoogleOAuth2`
source. Norq's executor obtains the access token (one exchange for every
send of the instance, across threads and event loops), adds it as
``Authorization: Bearer``, renews it before it expires and once when FCM
answers 401, and never shows it: a dry run prints ``Authorization: ***``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import norq
from norq_fcm.config import FcmConfig
from norq_fcm.credentials import GoogleOAuth2
from norq_fcm.errors import FCM_ERROR_FORMAT, FCM_ERRORS, error_code
from norq_fcm.messages import FCM_TARGET, MESSAGE_FIELDS, check, payload

ANSWERED = frozenset({200})


class FcmProvider(norq.Provider[FcmConfig]):
    """Push through Firebase Cloud Messaging; the receipt id is the message's name."""

    name = "fcm"
    channels = frozenset({"push"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"push": FCM_TARGET}
    description = "Firebase Cloud Messaging HTTP v1: notification and data messages, overrides"
    message_fields: ClassVar[frozenset[str]] = MESSAGE_FIELDS

    def __init__(self, config: FcmConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._account = config.account()
        project = config.project_id or self._account.project_id
        self._url = f"{config.base_url}/v1/projects/{project}/messages:send"
        self._token = GoogleOAuth2(self._account, self.retry)

    def secret_values(self) -> list[str]:
        # The key may come from a file, which the config's own secrets do not cover.
        return [*super().secret_values(), self._account.private_key]

    def check_message(self, message: norq.Message) -> None:
        check(message)

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=self._url,
            json=payload(message, validate_only=self.config.validate_only),
            token=self._token,
            success_statuses=ANSWERED,
            message_id_path="$.name",
            retry=self.retry,
            errors=FCM_ERROR_FORMAT,
        )

    def read_send(self, request: Any, response: norq.Response) -> norq.SendResult:
        result = super().read_send(request, response)
        if result.ok:
            return result
        try:
            data = json.loads(response.body)
        except ValueError:
            return result
        code = error_code(data)
        if code is None:
            return result
        said = f"FCM: {code}: {result.message or code}"
        hints = {"retry_after": result.retry_after, "retry_at": result.retry_at, "data": data}
        if code == "INVALID_ARGUMENT" and "registration token" in said:
            # FCM's word for a token that was never valid (cut short, or another app's).
            return norq.SendResult.failed(
                norq.ErrorCode.INVALID_RECIPIENT, said, provider_code=code, **hints
            )
        return FCM_ERRORS.failed(code, said, **hints)
