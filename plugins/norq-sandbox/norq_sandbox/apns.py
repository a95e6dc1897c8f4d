"""Apple Push Notification service: ``POST /3/device/{token}`` with a provider token.

Each request carries ``authorization: bearer <JWT>``: ES256, ``kid`` the key
id, ``iss`` the team id, ``iat`` within the hour, signed by the team's key
(the one this sandbox made,
:meth:`~norq_sandbox.push_accounts.PushAccounts.apns_signing_key`). Apple's
answers: ``200`` with ``apns-id``; ``403 ExpiredProviderToken`` for a token
over an hour old (or one :meth:`~PushAccounts.expire_tokens` expired),
``403 InvalidProviderToken`` for a bad signature, ``403
MissingProviderToken``; ``400`` with ``BadDeviceToken``, ``MissingTopic``,
``BadPriority``, ``BadExpirationDate``, ``BadCollapseId``,
``InvalidPushType``, ``PayloadEmpty``; ``413 PayloadTooLarge``; ``410
Unregistered`` (with a ``timestamp``) for a device token starting with
``deadbeef`` or one the sandbox was told is gone.

APNs itself speaks only HTTP/2; the sandbox answers on its one port with
whatever its server speaks (HTTP/1.1 on plain loopback), so what it checks is
the API, not the framing (norq-apns's own tests hold the HTTP/2 framing).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from norq_sandbox.emulated import EmulatedApi, note_created
from norq_sandbox.faults import Fault
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.push_accounts import APNS_KEY_ID, APNS_TEAM_ID, APNS_UNREGISTERED_PREFIX
from norq_sandbox.state import state_of

PATH = "/3/device/{token}"
TOKEN_LIFETIME = 3600
MAX_PAYLOAD = 4096
MAX_VOIP_PAYLOAD = 5120
MAX_COLLAPSE_ID = 64
_DEVICE_TOKEN = re.compile(r"(?:[0-9a-fA-F]{2}){32,100}")
_TOPIC = re.compile(r"[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+")
PUSH_TYPES = frozenset(
    {
        "alert",
        "background",
        "location",
        "voip",
        "complication",
        "fileprovider",
        "mdm",
        "liveactivity",
        "pushtotalk",
        "widgets",
    }
)


def refusal(status: int, reason: str, apns_id: str, **extra: Any) -> Response:
    return JSONResponse({"reason": reason, **extra}, status, headers={"apns-id": apns_id})


def _provider_token_problem(request: Request) -> str | None:
    """APNs' reason for refusing the request's provider token, or None if it is good."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return "MissingProviderToken"
    value = value.strip()
    accounts = state_of(request).push
    try:
        header = jwt.get_unverified_header(value)
    except jwt.InvalidTokenError:
        return "InvalidProviderToken"
    if header.get("alg") != "ES256":
        return "InvalidProviderToken"
    if header.get("kid") != APNS_KEY_ID:
        return "UnrelatedKeyIdInToken"
    try:
        claims = jwt.decode(
            value,
            accounts.apns_public_key(),
            algorithms=["ES256"],
            options={"require": ["iss", "iat"], "verify_iat": False},
        )
    except jwt.InvalidTokenError:
        return "InvalidProviderToken"
    if claims["iss"] != APNS_TEAM_ID:
        return "InvalidProviderToken"
    if time.time() - float(claims["iat"]) > TOKEN_LIFETIME:
        return "ExpiredProviderToken"
    if not accounts.accept_provider_token(value):
        return "ExpiredProviderToken"
    return None


def _header_problem(request: Request) -> str | None:
    headers = request.headers
    topic = headers.get("apns-topic")
    if not topic:
        return "MissingTopic"
    if not _TOPIC.fullmatch(topic.removesuffix(".voip").removesuffix(".complication")):
        return "BadTopic"
    priority = headers.get("apns-priority")
    if priority is not None and priority not in {"1", "5", "10"}:
        return "BadPriority"
    expiration = headers.get("apns-expiration")
    if expiration is not None and not expiration.isdigit():
        return "BadExpirationDate"
    collapse = headers.get("apns-collapse-id")
    if collapse is not None and len(collapse.encode()) > MAX_COLLAPSE_ID:
        return "BadCollapseId"
    push_type = headers.get("apns-push-type")
    if push_type is not None and push_type not in PUSH_TYPES:
        return "InvalidPushType"
    apns_id = headers.get("apns-id")
    if apns_id is not None:
        try:
            uuid.UUID(apns_id)
        except ValueError:
            return "BadMessageId"
    return None


async def send(request: Request) -> Response:
    state = state_of(request)
    apns_id = request.headers.get("apns-id") or str(uuid.uuid4()).upper()
    device = request.path_params["token"]
    problem = _provider_token_problem(request)
    if problem is not None:
        return refusal(403, problem, apns_id)
    problem = _header_problem(request)
    if problem is not None:
        return refusal(400, problem, apns_id)
    if not _DEVICE_TOKEN.fullmatch(device):
        return refusal(400, "BadDeviceToken", apns_id)
    body = await request.body()
    if not body:
        return refusal(400, "PayloadEmpty", apns_id)
    push_type = request.headers.get("apns-push-type") or "alert"
    limit = MAX_VOIP_PAYLOAD if push_type == "voip" else MAX_PAYLOAD
    if len(body) > limit:
        return refusal(413, "PayloadTooLarge", apns_id)
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
        return refusal(400, "BadPayload" if payload is None else "PayloadEmpty", apns_id)
    if device.lower().startswith(APNS_UNREGISTERED_PREFIX) or state.push.is_gone(device):
        # The time the token stopped being valid, in milliseconds, as APNs reports it.
        gone_at = int(state.records.clock.now().timestamp() * 1000)
        return refusal(410, "Unregistered", apns_id, timestamp=gone_at)
    aps = payload["aps"]
    alert = aps.get("alert")
    if isinstance(alert, str):
        alert = {"body": alert}
    alert = alert if isinstance(alert, dict) else {}
    state.records.deliver(
        OutboxMessage(
            id=f"apns-{apns_id}",
            api="apns",
            channel="push",
            at=state.records.clock.now(),
            sender=request.headers.get("apns-topic"),
            to=(device,),
            provider_id=apns_id,
            subject=alert.get("title"),
            text=alert.get("body"),
            details={
                "push_type": push_type,
                "priority": request.headers.get("apns-priority"),
                "collapse_id": request.headers.get("apns-collapse-id"),
                "expiration": request.headers.get("apns-expiration"),
                "aps": aps,
                "data": {key: value for key, value in payload.items() if key != "aps"} or None,
            },
        )
    )
    note_created(request, apns_id)
    return Response(status_code=200, headers={"apns-id": apns_id})


def fault_response(fault: Fault, path: str) -> Response:
    apns_id = str(uuid.uuid4()).upper()
    status = fault.status or 500
    if status == 429:
        return refusal(429, "TooManyRequests", apns_id)
    if status == 500:
        return refusal(500, "InternalServerError", apns_id)
    return refusal(503, "ServiceUnavailable", apns_id)


def _user(headers: Mapping[str, str], fields: Mapping[str, Any]) -> str | None:
    # The provider token is the credential: the log names the team, never the token.
    has_token = headers.get("authorization", "").lower().startswith("bearer ")
    return f"team {APNS_TEAM_ID}" if has_token else None


API = EmulatedApi(
    name="apns",
    prefixes=("/3/device/",),
    routes=[Route(PATH, send, methods=["POST"])],
    fault_response=fault_response,
    user=_user,
)
