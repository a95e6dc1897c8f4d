"""A Web Push service (RFC 8030) that checks VAPID (RFC 8292) and decrypts (RFC 8291) each push.

The sandbox plays both the push service and the browser behind it. A
subscription is made with ``POST /_sandbox/push/subscriptions`` (or
:meth:`~norq_sandbox.server.SandboxServer.webpush_subscription`), as a page
calls ``PushManager.subscribe()``: its endpoint is ``/wpush/{id}`` here, its
keys are ``p256dh`` and ``auth``, and the sandbox keeps the private half.

``POST /wpush/{id}`` wants ``TTL`` (RFC 8030, 5.2), an optional ``Urgency``
(``very-low``, ``low``, ``normal``, ``high``) and ``Topic`` (at most 32
base64url characters), ``Content-Encoding: aes128gcm`` and ``Authorization:
vapid t=<JWT>, k=<key>``: the JWT ES256-signed by ``k``, ``aud`` this push
service's origin, ``exp`` in the future and at most 24 hours ahead. It
answers ``201 Created`` with a ``Location`` (the push message's URL); ``404`` for an unknown
subscription and ``410 Gone`` for one unsubscribed; ``401`` for a missing or
bad token; ``400`` for a missing TTL, a bad header or a payload that does not
decrypt with the subscription's keys; ``413`` for a body over 4096 bytes. The
decrypted payload goes to the inbox: a JSON ``{"title", "body"}`` as a
notification, anything else as the data it is.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from norq_sandbox.emulated import EmulatedApi, note_created
from norq_sandbox.faults import Fault
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.push_accounts import WEBPUSH_PREFIX as PREFIX
from norq_sandbox.push_accounts import b64url_decode
from norq_sandbox.state import state_of

PATH = PREFIX + "{id}"
MAX_BODY = 4096
MAX_EXPIRY = 24 * 3600
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
_TOPIC = re.compile(r"[A-Za-z0-9_\-]{1,32}")
_VAPID = re.compile(r"vapid\s+(?P<params>.+)", re.IGNORECASE)


def refusal(status: int, reason: str) -> Response:
    # Push services answer errors in their own words; Mozilla's are JSON like this.
    return JSONResponse({"code": status, "error": reason}, status)


def _vapid_problem(request: Request) -> tuple[str | None, str | None]:
    """A reason to refuse the request's VAPID token (or None), and its ``sub`` claim."""
    found = _VAPID.fullmatch(request.headers.get("authorization", "").strip())
    if found is None:
        return "Missing Authorization: vapid t=<JWT>, k=<public key>", None
    params = dict(part.strip().split("=", 1) for part in found["params"].split(",") if "=" in part)
    token, key = params.get("t"), params.get("k")
    if not token or not key:
        return "The vapid Authorization needs both t= and k=", None
    try:
        point = b64url_decode(key)
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return "k= is not an uncompressed P-256 public key in base64url", None
    origin = f"{request.url.scheme}://{request.url.netloc}"
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["ES256"],
            audience=origin,
            options={"require": ["aud", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        return "The VAPID token has expired", None
    except jwt.InvalidAudienceError:
        return f"The VAPID token's aud must be this push service's origin, {origin}", None
    except jwt.InvalidTokenError:
        return "The VAPID token is not signed by k=", None
    if float(claims["exp"]) > time.time() + MAX_EXPIRY:
        return "The VAPID token's exp is more than 24 hours ahead", None
    subject = claims.get("sub")
    return None, subject if isinstance(subject, str) else None


def _header_problem(request: Request) -> str | None:
    headers = request.headers
    ttl = headers.get("ttl")
    if ttl is None or not ttl.isdigit():
        return "A push needs a TTL header: the seconds it may wait for the browser"
    urgency = headers.get("urgency")
    if urgency is not None and urgency not in URGENCIES:
        return f"Urgency must be one of {', '.join(sorted(URGENCIES))}"
    topic = headers.get("topic")
    if topic is not None and not _TOPIC.fullmatch(topic):
        return "Topic must be at most 32 characters of the base64url alphabet"
    if headers.get("content-encoding", "").lower() != "aes128gcm":
        return "Content-Encoding must be aes128gcm (RFC 8291)"
    return None


def shown(plaintext: bytes) -> tuple[str | None, str | None, Any]:
    """What a browser's notification would show: a title, a body, and the data as sent."""
    text = plaintext.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return None, text, None
    if isinstance(data, dict) and ("title" in data or "body" in data):
        title, body = data.get("title"), data.get("body")
        return (str(title) if title is not None else None, str(body) if body else None, data)
    return None, None, data


async def push(request: Request) -> Response:
    state = state_of(request)
    subscription_id = request.path_params["id"]
    subscription = state.push.subscription(subscription_id)
    if subscription is None:
        return refusal(404, "No such subscription")
    if state.push.is_gone(subscription_id):
        return refusal(410, "The subscription has expired or been unsubscribed")
    problem, subject = _vapid_problem(request)
    if problem is not None:
        return refusal(401, problem)
    problem = _header_problem(request)
    if problem is not None:
        return refusal(400, problem)
    body = await request.body()
    if len(body) > MAX_BODY:
        return refusal(413, "The payload is over 4096 bytes")
    try:
        plaintext = (
            http_ece.decrypt(
                body,
                private_key=subscription.private_key,
                auth_secret=subscription.auth_secret,
                version="aes128gcm",
            )
            if body
            else b""
        )
    except Exception:  # http_ece raises its own, ValueError and InvalidTag alike
        return refusal(400, "The payload does not decrypt with this subscription's keys")
    title, text, data = shown(plaintext)
    message_id = secrets.token_urlsafe(12)
    origin = f"{request.url.scheme}://{request.url.netloc}"
    endpoint = f"{origin}{PREFIX}{subscription_id}"
    # RFC 8030, 5: the push message's own resource, which is the id a sender keeps.
    location = f"{origin}{PREFIX}messages/{message_id}"
    state.records.deliver(
        OutboxMessage(
            id=f"webpush-{message_id}",
            api="webpush",
            channel="push",
            at=state.records.clock.now(),
            sender=subject,
            to=(endpoint,),
            provider_id=location,
            subject=title,
            text=text,
            details={
                "data": data,
                "ttl": request.headers.get("ttl"),
                "urgency": request.headers.get("urgency"),
                "topic": request.headers.get("topic"),
            },
        )
    )
    note_created(request, message_id)
    return PlainTextResponse("", 201, headers={"Location": location})


def fault_response(fault: Fault, path: str) -> Response:
    status = fault.status or 500
    if status == 429:
        seconds = fault.seconds if fault.seconds is not None else 1.0
        return PlainTextResponse(
            "Too Many Requests", 429, headers={"Retry-After": f"{max(seconds, 0):g}"}
        )
    return refusal(status, "The push service is unavailable")


def _user(headers: Mapping[str, str], fields: Mapping[str, Any]) -> str | None:
    # The VAPID JWT is the credential: the log says only that one came.
    return "vapid" if headers.get("authorization", "").lower().startswith("vapid") else None


API = EmulatedApi(
    name="webpush",
    prefixes=(PREFIX,),
    routes=[Route(PATH, push, methods=["POST"])],
    fault_response=fault_response,
    user=_user,
)
