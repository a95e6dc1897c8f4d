"""Vonage's SMS API: ``POST /sms/json``, as Vonage documents it.

Form-encoded or JSON, with ``api_key`` and ``api_secret`` in the body or as
HTTP Basic credentials (what Vonage's v4 Python SDK sends), or ``api_key``
and a ``sig`` signed with the signature secret (the SDK's signed requests).
The answer is
``200`` even when the message fails: ``{"message-count": N,
"messages": [...]}`` with one entry per part of a long message, each with a
``status`` (``"0"`` success) and, when it is not, an ``error-text``. A message
id is 16 hexadecimal digits. A text is split into parts in the encoding its
``type`` asks for (``text``: GSM-7, 160 or 153 a part; ``unicode``: UCS-2, 70
or 67), and each accepted part names the recipient's ``network``. Throttling
is ``status`` 1 inside the 200, as Vonage reports it; 5xx and dropped
connections are real HTTP failures.
"""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from norq_sandbox.emulated import EmulatedApi, basic_credentials, note_created, read_fields
from norq_sandbox.faults import COMMON_KINDS, Fault
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.segments import count_parts
from norq_sandbox.settings import SandboxSettings
from norq_sandbox.state import state_of

PATH = "/sms/json"
TYPES = frozenset({"text", "unicode"})
REMAINING_BALANCE = "10.00000000"
MESSAGE_PRICE = "0.00000000"
# The MCCMNC every sandbox recipient is on: 001-01, the ITU's code for a test network.
NETWORK = "00101"
# E.164 without the leading + or 00, as Vonage wants "to".
_NUMBER = re.compile(r"^[1-9][0-9]{6,14}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")

# Vonage's status codes for failures the sandbox can produce.
THROTTLED = ("1", "Throttled")
INTERNAL_ERROR = ("5", "Internal Error")


def failure(status: str, text: str) -> Response:
    """A failed send, in a 200 as Vonage answers it."""
    return JSONResponse(
        {"message-count": "1", "messages": [{"status": status, "error-text": text}]}
    )


def credentials(fields: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[Any, Any]:
    """The API key and secret a request came with: HTTP Basic, else the body's fields."""
    return basic_credentials(headers) or (fields.get("api_key"), fields.get("api_secret"))


def signature_valid(fields: Mapping[str, Any], secret: str, method: str) -> bool:
    """Whether ``sig`` is Vonage's signature of the other fields: an HMAC keyed with the
    signature secret (``method``: md5, sha1, sha256 or sha512) over ``&name=value`` for
    each field in name order, with ``&`` and ``=`` in a value written as ``_``."""
    hasher = hmac.new(secret.encode(), digestmod=method)
    for name in sorted(fields):
        if name != "sig":
            value = str(fields[name]).replace("&", "_").replace("=", "_")
            hasher.update(f"&{name}={value}".encode())
    return hmac.compare_digest(str(fields["sig"]).lower(), hasher.hexdigest())


def check(
    fields: Mapping[str, Any] | None, headers: Mapping[str, str], settings: SandboxSettings
) -> tuple[str, str] | None:
    """The status and error text Vonage would answer, or None if the request is valid."""
    if fields is None:
        return ("3", "Invalid Parameters: send a form or a JSON object")
    if "sig" in fields:
        if fields.get("api_key") != settings.vonage_api_key or not signature_valid(
            fields, settings.vonage_signature_secret, settings.vonage_signature_method
        ):
            return ("14", "Invalid Signature")
    else:
        given = credentials(fields, headers)
        for name, value in zip(("api_key", "api_secret"), given, strict=True):
            if not value:
                return ("2", f"Missing {name}")
        if given != (settings.vonage_api_key, settings.vonage_api_secret):
            return ("4", "Bad Credentials")
    for name in ("from", "to"):
        if not fields.get(name):
            return ("2", f"Missing {name} param")
    kind = fields.get("type", "text")
    if kind not in TYPES:
        return ("3", f"Invalid type param {kind!r}: the sandbox sends text and unicode")
    if not fields.get("text"):
        return ("2", "Missing text param")
    to = str(fields["to"])
    if not _NUMBER.fullmatch(to):
        return ("3", f"Invalid to param {to!r}: write the number in E.164 without + or 00")
    sender = str(fields["from"])
    if not (_NUMBER.fullmatch(sender) or _ALPHANUMERIC_SENDER.fullmatch(sender)):
        return ("15", "Illegal Sender Address - rejected")
    callback = fields.get("callback")
    if callback is not None and not re.match(r"^https?://[^/\s]+", str(callback)):
        return ("23", "Invalid Callback Url")
    return None


async def send_sms(request: Request) -> Response:
    state = state_of(request)
    settings = state.settings
    fields = await read_fields(request)
    problem = check(fields, request.headers, settings)
    if problem is not None:
        return failure(*problem)
    assert fields is not None
    text = str(fields["text"])
    kind = fields.get("type", "text")
    parts = count_parts(text, "ucs2" if kind == "unicode" else "gsm7")
    ids = [uuid.uuid4().hex[:16].upper() for _ in range(parts)]
    to = str(fields["to"])
    state.records.deliver(
        OutboxMessage(
            id=ids[0],
            api="vonage",
            channel="sms",
            at=state.records.clock.now(),
            sender=str(fields["from"]),
            to=(to,),
            provider_id=ids[0],
            text=text,
            details={
                "message_ids": ids,
                "type": kind,
                "client_ref": fields.get("client-ref"),
                "callback": fields.get("callback"),
            },
        )
    )
    messages = [
        {
            "to": to,
            "message-id": message_id,
            "status": "0",
            "remaining-balance": REMAINING_BALANCE,
            "message-price": MESSAGE_PRICE,
            "network": NETWORK,
        }
        for message_id in ids
    ]
    if fields.get("client-ref"):
        for message in messages:
            message["client-ref"] = str(fields["client-ref"])
    note_created(request, ids[0])
    return JSONResponse({"message-count": str(parts), "messages": messages})


def fault_response(fault: Fault, path: str) -> Response:
    if fault.kind == "429":
        return failure(*THROTTLED)
    if fault.kind == "body-error":
        return failure(*INTERNAL_ERROR)
    status = fault.status or 500
    return PlainTextResponse("Service Unavailable" if status == 503 else "Error", status)


def _user(headers: Mapping[str, str], fields: Mapping[str, Any]) -> str | None:
    basic = basic_credentials(headers)
    key = basic[0] if basic is not None else fields.get("api_key")
    if isinstance(key, list):
        key = key[-1] if key else None
    return key if isinstance(key, str) else None


API = EmulatedApi(
    name="vonage",
    prefixes=("/sms/",),
    routes=[Route(PATH, send_sms, methods=["POST"])],
    fault_response=fault_response,
    user=_user,
    faults=COMMON_KINDS | {"body-error"},
)
