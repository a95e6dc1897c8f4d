"""Vonage's legacy SMS API as prepared requests, and its answers read per part.

The credentials go as HTTP Basic (API key and secret), as Vonage's v4 SDK
sends them, not in the form: a body is logged and echoed more often than a
header. They are config secrets, masked in every dry run, log line and error.
The constant part of the form is built once per instance; ``prepare_send``
adds the recipient, the text and the message's own options.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import norq
from norq_vonage.config import DLT_HINT, DLT_ID, VonageConfig
from norq_vonage.encoding import encoding, not_gsm
from norq_vonage.statuses import VONAGE_STATUSES

SMS_TYPES = ("text", "unicode")
MAX_CLIENT_REF = 100
#: How long Vonage keeps trying to deliver, in milliseconds (its API's bounds).
TTL_RANGE = (20_000, 604_800_000)
ANSWERED = frozenset({200})


class VonageProvider(norq.Provider[VonageConfig]):
    """Sends SMS through Vonage's ``/sms/json``; failures arrive inside HTTP 200."""

    name = "vonage"
    channels = frozenset({"sms"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"sms": norq.E164}
    env_prefix = "VONAGE"
    description = (
        "Vonage SMS API (legacy /sms/json): type unicode, client_ref, callback, ttl, India DLT ids"
    )
    message_fields: ClassVar[frozenset[str]] = frozenset(
        {"type", "client_ref", "callback", "ttl", "entity_id", "content_id"}
    )

    def __init__(self, config: VonageConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._url = f"{config.base_url}/sms/json"
        self._auth = norq.BasicAuth(
            config.api_key.get_secret_value(), config.api_secret.get_secret_value()
        )
        self._sender = ("from", config.from_)

    def check_message(self, message: norq.Message) -> None:
        super().check_message(message)
        fields = message.fields
        sms_type = fields.get("type")
        if sms_type is not None:
            if sms_type not in SMS_TYPES:
                raise norq.MessageError(
                    f"type must be 'text' or 'unicode', got {sms_type!r}; leave it out to "
                    "let Norq choose from the text"
                )
            unsendable = not_gsm(message.body or "") if sms_type == "text" else []
            if unsendable:
                shown = " ".join(unsendable[:5])
                raise norq.MessageError(
                    f"type 'text' cannot carry {shown} (outside the GSM alphabet; Vonage "
                    "would garble them): use type 'unicode', or leave type out"
                )
        client_ref = fields.get("client_ref")
        if client_ref is not None and (
            not isinstance(client_ref, str) or not 0 < len(client_ref) <= MAX_CLIENT_REF
        ):
            raise norq.MessageError(
                f"client_ref must be text of 1 to {MAX_CLIENT_REF} characters, got {client_ref!r}"
            )
        callback = fields.get("callback")
        if callback is not None:
            try:
                norq.HTTP_URL.validate(callback if isinstance(callback, str) else "")
            except ValueError as exc:
                raise norq.MessageError(f"callback {exc} (got {callback!r})") from None
        ttl = fields.get("ttl")
        low, high = TTL_RANGE
        if ttl is not None and (
            not isinstance(ttl, int) or isinstance(ttl, bool) or not low <= ttl <= high
        ):
            raise norq.MessageError(
                f"ttl must be a whole number of milliseconds from {low} to {high} (20 seconds "
                f"to 7 days), got {ttl!r}"
            )
        for option in ("entity_id", "content_id"):
            value = fields.get(option)
            # Text only: a 19-digit number is rounded by JSON readers and spreadsheets.
            if value is not None and not (isinstance(value, str) and DLT_ID.fullmatch(value)):
                raise norq.MessageError(f"{option} must be {DLT_HINT}, got {value!r}")

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        text = message.body or ""
        fields = message.fields
        form = [
            self._sender,
            ("to", message.to.removeprefix("+")),
            ("text", text),
            ("type", encoding(text, fields.get("type")).type),
        ]
        client_ref = fields.get("client_ref")
        if client_ref is not None:
            form.append(("client-ref", client_ref))
        callback = fields.get("callback", self.config.callback)
        if callback is not None:
            form.append(("callback", callback))
        if "ttl" in fields:
            form.append(("ttl", str(fields["ttl"])))
        entity_id = fields.get("entity_id", self.config.entity_id)
        if entity_id is not None:
            form.append(("entity-id", entity_id))
        if "content_id" in fields:
            form.append(("content-id", fields["content_id"]))
        return norq.PreparedRequest(
            method="POST",
            url=self._url,
            form=tuple(form),
            auth=self._auth,
            success_statuses=ANSWERED,
            retry=self.retry,
        )

    def read_send(self, request: Any, response: norq.Response) -> norq.SendResult:
        if response.status not in ANSWERED:
            # A gateway or proxy in front of the API: the status says it all.
            return super().read_send(request, response)
        return read_answer(response.body)

    def describe(self, message: norq.Message) -> Mapping[str, str]:
        sent_as = encoding(message.body or "", message.fields.get("type"))
        return {"type": sent_as.type, "parts": str(sent_as.parts)}


def read_answer(body: bytes) -> norq.SendResult:
    """A ``/sms/json`` answer: accepted only if every part's status is "0"."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    parts = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
        snippet = body[:200].decode("utf-8", "replace").strip()
        return norq.SendResult.failed(
            norq.ErrorCode.BAD_RESPONSE,
            f"Vonage answered HTTP 200 without a 'messages' list: {snippet or '(empty)'}",
            data=data,
        )
    statuses = [str(part.get("status", "")) for part in parts]
    failed = [i for i, status in enumerate(statuses) if status != "0"]
    if not failed:
        message_id = parts[0].get("message-id")
        if not isinstance(message_id, str) or not message_id:
            return norq.SendResult.failed(
                norq.ErrorCode.BAD_RESPONSE,
                "Vonage accepted the message but its answer has no message-id",
                data=data,
            )
        # A long text goes as several parts, each with its own id; the first
        # names the message (delivery receipts carry it too).
        return norq.SendResult.accepted(message_id, data=data)
    first = failed[0]
    status = statuses[first]
    meaning = VONAGE_STATUSES.meaning(status)
    text = str(parts[first].get("error-text") or "no error-text")
    message = f"{text} (Vonage status {status})"
    disposition = meaning.disposition
    if len(parts) > 1:
        message += f", part {first + 1} of {len(parts)}"
        accepted = len(parts) - len(failed)
        if accepted:
            # Some parts are on their way: another try anywhere repeats them.
            message += f"; {accepted} other part(s) were accepted, so it is not sent again"
            disposition = norq.Disposition.FINAL
    return norq.SendResult.failed(
        meaning.code,
        message,
        provider_code=status,
        disposition=disposition,
        data=data,
    )
