"""SendGrid's v3 Mail Send API: ``POST /v3/mail/send``, as SendGrid documents it.

JSON in, ``Authorization: Bearer <API key>``; ``202`` with an empty body and an
``X-Message-Id`` header when accepted; errors as ``{"errors": [{"message",
"field", "help"}]}``; ``429`` with ``X-RateLimit-Limit``, ``-Remaining`` and
``-Reset`` (a Unix time). Each personalization becomes one email in the inbox.
With ``mail_settings.sandbox_mode.enable`` the request is validated and
answered ``200`` without sending, as SendGrid's own sandbox mode does.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from norq_sandbox.emulated import EmulatedApi, bearer_token, note_created, read_fields
from norq_sandbox.faults import Fault
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.state import state_of

PATH = "/v3/mail/send"
MAX_PERSONALIZATIONS = 1000
# The limit SendGrid reports for Mail Send in X-RateLimit-Limit.
RATE_LIMIT = 600
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SendGridError(Exception):
    """A refusal in SendGrid's shape."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def response(self, headers: Mapping[str, str] | None = None) -> Response:
        return errors_response(self.status, [(self.message, self.field)], headers)


def errors_response(
    status: int, errors: list[tuple[str, str | None]], headers: Mapping[str, str] | None = None
) -> Response:
    body = {"errors": [{"message": m, "field": f, "help": None} for m, f in errors]}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _address(value: Any, where: str) -> str:
    if not isinstance(value, Mapping) or not isinstance(value.get("email"), str):
        raise SendGridError(400, "The email object requires an email address.", where)
    email = value["email"]
    if not _EMAIL.fullmatch(email):
        raise SendGridError(400, "Does not contain a valid address.", f"{where}.email")
    name = value.get("name")
    return f"{name} <{email}>" if isinstance(name, str) and name else email


def _addresses(personalization: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = personalization.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise SendGridError(400, f"The {key} field must be an array of email objects.", where)
    return [_address(item, f"{where}.{n}") for n, item in enumerate(value)]


def _bare(address: str) -> str:
    return address.rsplit("<", 1)[-1].rstrip(">").lower()


def validate(document: Any) -> list[dict[str, Any]]:
    """The emails a Mail Send body describes, one per personalization; SendGridError if invalid."""
    if not isinstance(document, Mapping):
        raise SendGridError(400, "Bad Request")
    personalizations = document.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        raise SendGridError(
            400,
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
        )
    if len(personalizations) > MAX_PERSONALIZATIONS:
        raise SendGridError(
            400,
            f"The personalizations field must have at most {MAX_PERSONALIZATIONS} items.",
            "personalizations",
        )
    if "from" not in document:
        raise SendGridError(400, "The from object must be provided for every email send.", "from")
    sender = _address(document["from"], "from")
    reply_to = [_address(document["reply_to"], "reply_to")] if "reply_to" in document else []
    reply_to += _addresses(document, "reply_to_list", "reply_to_list")
    template = document.get("template_id")
    contents = _contents(document.get("content"), template)
    attachments = _attachments(document.get("attachments"))
    emails = []
    for n, personalization in enumerate(personalizations):
        where = f"personalizations.{n}"
        if not isinstance(personalization, Mapping):
            raise SendGridError(400, "A personalization must be an object.", where)
        to = _addresses(personalization, "to", f"{where}.to")
        if not to:
            raise SendGridError(
                400,
                "The to array is required for all personalization objects, and must have at "
                "least one email object with a valid email address.",
                f"{where}.to",
            )
        cc = _addresses(personalization, "cc", f"{where}.cc")
        bcc = _addresses(personalization, "bcc", f"{where}.bcc")
        everyone = [_bare(a) for a in to + cc + bcc]
        if len(set(everyone)) != len(everyone):
            raise SendGridError(
                400,
                "Each email address in the personalization block should be unique between "
                "to, cc, and bcc.",
                where,
            )
        subject = personalization.get("subject", document.get("subject"))
        if not template and not (isinstance(subject, str) and subject):
            raise SendGridError(
                400,
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
            )
        emails.append(
            {
                "from": sender,
                "to": to,
                "cc": cc,
                "bcc": bcc,
                "subject": subject if isinstance(subject, str) else None,
                "text": contents.get("text/plain"),
                "html": contents.get("text/html"),
                "template_id": template,
                "dynamic_template_data": personalization.get("dynamic_template_data"),
                "headers": {
                    **_headers(document.get("headers")),
                    **_headers(personalization.get("headers")),
                },
                "categories": document.get("categories") or [],
                "reply_to": reply_to,
                "attachments": attachments,
                "custom_args": {
                    **_custom_args(document.get("custom_args"), "custom_args"),
                    **_custom_args(personalization.get("custom_args"), f"{where}.custom_args"),
                },
            }
        )
    return emails


def _attachments(value: Any) -> list[dict[str, Any]]:
    """What the inbox shows of each attachment: name, type, disposition, size, content id."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SendGridError(400, "The attachments field must be an array.", "attachments")
    found = []
    for n, item in enumerate(value):
        where = f"attachments.{n}"
        if not isinstance(item, Mapping):
            raise SendGridError(400, "An attachment must be an object.", where)
        content, filename = item.get("content"), item.get("filename")
        if not isinstance(content, str) or not content:
            raise SendGridError(400, "The attachment content is required.", f"{where}.content")
        try:
            size = len(base64.b64decode(content, validate=True))
        except ValueError:
            raise SendGridError(
                400, "The attachment content must be base64 encoded.", f"{where}.content"
            ) from None
        if not isinstance(filename, str) or not filename:
            raise SendGridError(
                400, "The attachment filename parameter is required.", f"{where}.filename"
            )
        disposition = item.get("disposition", "attachment")
        if disposition not in ("attachment", "inline"):
            raise SendGridError(
                400, "The disposition must be either 'inline' or 'attachment'.", where
            )
        if disposition == "inline" and not item.get("content_id"):
            raise SendGridError(
                400, "The content_id is required for inline attachments.", f"{where}.content_id"
            )
        found.append(
            {
                "filename": filename,
                "type": item.get("type"),
                "disposition": disposition,
                "content_id": item.get("content_id"),
                "size": size,
            }
        )
    return found


def _custom_args(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise SendGridError(400, "Custom args must be an object whose values are strings.", where)
    return {str(k): v for k, v in value.items()}


def _contents(content: Any, template: Any) -> dict[str, str]:
    if content is None or content == []:
        if template:
            return {}
        raise SendGridError(
            400,
            "Unless a valid template_id is provided, the content parameter is required. There "
            "must be at least one defined content block.",
            "content",
        )
    if not isinstance(content, list):
        raise SendGridError(400, "The content field must be an array.", "content")
    found: dict[str, str] = {}
    for n, block in enumerate(content):
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise SendGridError(400, "The content type is required.", f"content.{n}.type")
        value = block.get("value")
        if not isinstance(value, str) or not value:
            raise SendGridError(
                400,
                "The content value must be a string at least one character in length.",
                f"content.{n}.value",
            )
        if block["type"] == "text/plain" and n != 0:
            raise SendGridError(
                400,
                "The text/plain content type must be first, followed by any other content types.",
                f"content.{n}.type",
            )
        found[block["type"]] = value
    return found


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def new_message_id() -> str:
    """An id shaped like SendGrid's: 22 characters of URL-safe base64."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


async def mail_send(request: Request) -> Response:
    state = state_of(request)
    token = bearer_token(request)
    if token is None:
        return errors_response(401, [("authorization required", None)])
    if token != state.settings.sendgrid_api_key:
        return errors_response(
            401, [("The provided authorization grant is invalid, expired, or revoked", None)]
        )
    document = await read_fields(request)
    try:
        emails = validate(document)
    except SendGridError as exc:
        return exc.response()
    assert document is not None
    sandbox_mode = (document.get("mail_settings") or {}).get("sandbox_mode") or {}
    if isinstance(sandbox_mode, Mapping) and sandbox_mode.get("enable") is True:
        return Response(status_code=200)
    message_id = new_message_id()
    for n, email in enumerate(emails):
        headers = [("From", email["from"]), ("To", ", ".join(email["to"]))]
        if email["cc"]:
            headers.append(("Cc", ", ".join(email["cc"])))
        if email["reply_to"]:
            headers.append(("Reply-To", ", ".join(email["reply_to"])))
        if email["subject"]:
            headers.append(("Subject", email["subject"]))
        headers += list(email["headers"].items())
        text = email["text"]
        if text is None and email["template_id"]:
            text = f"(template {email['template_id']}: {email['dynamic_template_data'] or {}})"
        state.records.deliver(
            OutboxMessage(
                id=message_id if n == 0 else f"{message_id}.{n}",
                api="sendgrid",
                channel="email",
                at=state.records.clock.now(),
                sender=email["from"],
                to=tuple(email["to"] + email["cc"] + email["bcc"]),
                provider_id=message_id,
                subject=email["subject"],
                text=text,
                html=email["html"],
                headers=tuple(headers),
                details={
                    "bcc": email["bcc"],
                    "reply_to": email["reply_to"],
                    "categories": email["categories"],
                    "custom_args": email["custom_args"],
                    "attachments": email["attachments"],
                    "template_id": email["template_id"],
                },
            )
        )
    note_created(request, message_id)
    return Response(status_code=202, headers={"X-Message-Id": message_id})


def fault_response(fault: Fault, path: str) -> Response:
    status = fault.status or 500
    if status == 429:
        wait = fault.seconds if fault.seconds is not None else 1.0
        reset = int(time.time() + wait + 0.999)
        return errors_response(
            429,
            [("too many requests", None)],
            {
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset),
            },
        )
    return errors_response(status, [("Internal Server Error", None)])


def _user(headers: Mapping[str, str], fields: Mapping[str, Any]) -> str | None:
    # A SendGrid API key is the whole secret: log only that one was given.
    return "apikey" if headers.get("authorization", "").lower().startswith("bearer ") else None


API = EmulatedApi(
    name="sendgrid",
    prefixes=("/v3/",),
    routes=[Route(PATH, mail_send, methods=["POST"])],
    fault_response=fault_response,
    user=_user,
)
