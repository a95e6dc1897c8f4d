"""SendGrid's v3 Mail Send as prepared requests, and its answers read.

The URL, the Bearer header, the sender and the mail settings are built once
per instance; ``prepare_send`` adds the recipient, the content and the
message's options. SendGrid answers ``202`` with an empty body and the id in
``X-Message-Id``; every error it lists is kept in the receipt's message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import norq
from norq_sendgrid.config import SendGridConfig
from norq_sendgrid.options import check_options, mail_parts

ACCEPTED = 202
#: In sandbox mode SendGrid validates the mail and answers 200, without an id.
SANDBOX_ACCEPTED = 200
MESSAGE_ID_HEADER = "X-Message-Id"
RESET_HEADER = "X-RateLimit-Reset"
_SNIPPET = 200

E = norq.ErrorCode

#: SendGrid lists its errors, and read_failure keeps them all; what the declared
#: reading adds is the wait: Retry-After, else X-RateLimit-Reset (Unix time).
SENDGRID_ERRORS = norq.ErrorFormat(code_path=None, message_path=None, reset_header=RESET_HEADER)


class SendGridProvider(norq.Provider[SendGridConfig]):
    """Sends email through SendGrid's v3 Mail Send API."""

    name = "sendgrid"
    channels = frozenset({"email"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"email": norq.EMAIL}
    env_prefix = "SENDGRID"
    description = (
        "SendGrid v3 Mail Send: html, cc/bcc, reply_to, categories, attachments, dynamic templates"
    )
    message_fields: ClassVar[frozenset[str]] = frozenset(
        {
            "subject",
            "html",
            "cc",
            "bcc",
            "reply_to",
            "categories",
            "custom_args",
            "attachments",
            "template_id",
            "dynamic_template_data",
        }
    )
    # A dynamic template stored at SendGrid supplies the subject and content.
    content_fields: ClassVar[frozenset[str]] = frozenset({"template_id"})

    def __init__(self, config: SendGridConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._url = f"{config.base_url}/v3/mail/send"
        self._headers = (("Authorization", f"Bearer {config.api_key.get_secret_value()}"),)
        sender = {"email": config.from_}
        if config.from_name:
            sender["name"] = config.from_name
        self._from = sender
        self._settings = {"sandbox_mode": {"enable": True}} if config.sandbox_mode else None
        self._success = frozenset(
            {ACCEPTED, SANDBOX_ACCEPTED} if config.sandbox_mode else {ACCEPTED}
        )
        # Sandbox mode validates the mail and answers without an id.
        self.issues_message_ids = not config.sandbox_mode

    def check_message(self, message: norq.Message) -> None:
        super().check_message(message)
        check_options(message)

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        personalization, mail = mail_parts(message)
        payload: dict[str, Any] = {"personalizations": [personalization], "from": self._from}
        payload.update(mail)
        if self._settings is not None:
            payload["mail_settings"] = self._settings
        return norq.PreparedRequest(
            method="POST",
            url=self._url,
            headers=self._headers,
            json=payload,
            success_statuses=self._success,
            retry=self.retry,
            errors=SENDGRID_ERRORS,
        )

    def read_send(self, request: Any, response: norq.Response) -> norq.SendResult:
        if response.status == ACCEPTED:
            message_id = response.header(MESSAGE_ID_HEADER)
            if not message_id:
                # Taken or not, nobody can tell: neither retry nor fail over.
                return norq.SendResult.failed(
                    E.BAD_RESPONSE, f"SendGrid answered 202 without {MESSAGE_ID_HEADER}"
                )
            return norq.SendResult.accepted(message_id)
        if response.status in request.success_statuses:
            # Sandbox mode: validated, not delivered, and so no message id.
            return norq.SendResult.accepted(response.header(MESSAGE_ID_HEADER))
        return read_failure(super().read_send(request, response), response)


def read_failure(declared: norq.SendResult, response: norq.Response) -> norq.SendResult:
    """A refused send: every listed error in the message, the code from the status and fields.

    ``declared`` is Norq's own reading of the status: its code, its disposition
    under the retry policy, and the wait hints (``Retry-After``, else
    ``X-RateLimit-Reset``).
    """
    errors = _errors(response.body)
    if errors:
        message = "; ".join(f"{text} (field {field})" if field else text for text, field in errors)
    else:
        snippet = response.body[:_SNIPPET].decode("utf-8", "replace").strip()
        message = f"HTTP {response.status}" + (f": {snippet}" if snippet else "")
    code = _code(response.status, errors, str(declared.code))
    return norq.SendResult.failed(
        code,
        f"SendGrid: {message}",
        provider_code=str(response.status),
        # When the errors name another problem than the status does (a 400 about
        # the sender), that problem's own disposition applies.
        disposition=declared.disposition if code == declared.code else None,
        retry_after=declared.retry_after,
        retry_at=declared.retry_at,
    )


def _errors(body: bytes) -> list[tuple[str, str | None]]:
    try:
        data = json.loads(body)
    except ValueError:
        return []
    listed = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(listed, list):
        return []
    found = []
    for error in listed:
        if isinstance(error, dict) and error.get("message"):
            field = error.get("field")
            found.append((str(error["message"]), str(field) if field else None))
    return found


def _code(status: int, errors: list[tuple[str, str | None]], declared: str) -> str:
    """The status's code (``declared``), unless the errors name the problem more precisely."""
    first_field = next((field for _, field in errors if field), "") or ""
    said = " ".join(text.lower() for text, _ in errors)
    if status == 400:
        if first_field.startswith("from"):
            return E.INVALID_SENDER
        if first_field.startswith("personalizations") and "email" in first_field:
            return E.INVALID_RECIPIENT
        return E.INVALID_MESSAGE
    if status == 401 and "credits" in said:
        return E.QUOTA_EXCEEDED
    # An unverified sender is this account's problem; the next provider has its own.
    if status == 403 and (first_field.startswith("from") or "sender identity" in said):
        return E.INVALID_SENDER
    return declared
