"""Firebase Cloud Messaging's HTTP v1 send endpoint, and Google's OAuth2 token endpoint.

``POST /token`` is the JWT bearer grant (RFC 7523) a service account uses:
a form with ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and
an ``assertion`` signed RS256 with the account's key (``kid`` its key id),
whose ``iss`` is the account, ``aud`` this endpoint, ``scope`` FCM's, and
which lasts at most an hour. It answers ``{"access_token", "expires_in",
"token_type": "Bearer"}``, or ``400 {"error": "invalid_grant",
"error_description"}``. The key is the one this sandbox made
(:meth:`~norq_sandbox.push_accounts.PushAccounts.fcm_service_account`).

``POST /v1/projects/{project}/messages:send`` takes ``Authorization: Bearer``
with a token issued here and not expired or revoked (else ``401
UNAUTHENTICATED``) and ``{"message": {...}, "validate_only"?}`` with exactly
one of ``token``, ``topic`` and ``condition``; it answers ``{"name":
"projects/P/messages/ID"}`` or a ``google.rpc.Status`` error whose details
carry FCM's ``errorCode``. A registration token starting with
``unregistered``, or one the sandbox was told is gone, is ``404
UNREGISTERED``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from norq_sandbox.emulated import EmulatedApi, bearer_token, note_created, read_fields
from norq_sandbox.faults import Fault
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.push_accounts import FCM_CLIENT_EMAIL, FCM_PROJECT, FCM_UNREGISTERED_PREFIX
from norq_sandbox.state import state_of

TOKEN_PATH = "/token"
SEND_PATH = "/v1/projects/{project}/messages:send"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS_TOKEN_LIFETIME = 3600
MAX_ASSERTION_LIFETIME = 3600
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
MAX_PAYLOAD = 4096
_STATUS_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
}


def grant_error(error: str, description: str, status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status)


def rpc_error(status: int, message: str, fcm_code: str | None = None, **headers: str) -> Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": _STATUS_CODES[status]}
    if fcm_code is not None:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": fcm_code}]
    return JSONResponse({"error": error}, status, headers=headers or None)


async def token(request: Request) -> Response:
    state = state_of(request)
    form = await read_fields(request) or {}
    if form.get("grant_type") != JWT_BEARER:
        return grant_error(
            "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type')}"
        )
    assertion = form.get("assertion")
    if not isinstance(assertion, str) or not assertion:
        return grant_error("invalid_request", "Missing required parameter: assertion")
    accounts = state.push
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        return grant_error("invalid_grant", "Invalid JWT: not a signed JWT.")
    if header.get("kid") != accounts.fcm_key_id or header.get("alg") != "RS256":
        return grant_error("invalid_grant", "Invalid JWT Signature.")
    audience = str(request.url.replace(query=""))
    try:
        claims = jwt.decode(
            assertion,
            accounts.fcm_public_key(),
            algorithms=["RS256"],
            audience=audience,
            options={"require": ["iss", "aud", "iat", "exp"]},
        )
    except jwt.InvalidSignatureError:
        return grant_error("invalid_grant", "Invalid JWT Signature.")
    except jwt.ExpiredSignatureError:
        return grant_error("invalid_grant", "Invalid JWT: Token must be a short-lived token.")
    except jwt.InvalidAudienceError:
        return grant_error("invalid_grant", f"Invalid JWT: the audience must be {audience}.")
    except jwt.InvalidTokenError as exc:
        return grant_error("invalid_grant", f"Invalid JWT: {exc}.")
    if claims["iss"] != FCM_CLIENT_EMAIL:
        return grant_error("invalid_grant", "Invalid JWT: the issuer is not this service account.")
    if claims["exp"] - claims["iat"] > MAX_ASSERTION_LIFETIME:
        return grant_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
            "timeframe.",
        )
    if SCOPE not in str(claims.get("scope", "")).split():
        return grant_error("invalid_scope", f"The scope must include {SCOPE}.")
    now = state.records.clock.now().timestamp()
    issued = accounts.issue_access_token(now + ACCESS_TOKEN_LIFETIME)
    return JSONResponse(
        {"access_token": issued, "expires_in": ACCESS_TOKEN_LIFETIME - 1, "token_type": "Bearer"}
    )


def _check(message: Any) -> str | None:
    """What FCM would say is wrong with ``message`` (its INVALID_ARGUMENT text), or None."""
    if not isinstance(message, dict):
        return 'Invalid JSON payload received. Unknown name "message".'
    targets = [name for name in ("token", "topic", "condition") if message.get(name)]
    if len(targets) != 1:
        return "Exactly one of message.token, message.topic or message.condition must be set."
    data = message.get("data")
    if data is not None and not (
        isinstance(data, dict) and all(isinstance(v, str) for v in data.values())
    ):
        return "Invalid value at 'message.data': every value must be a string."
    notification = message.get("notification")
    if notification is not None and not isinstance(notification, dict):
        return "Invalid value at 'message.notification'."
    for name in ("android", "apns", "webpush"):
        if message.get(name) is not None and not isinstance(message[name], dict):
            return f"Invalid value at 'message.{name}'."
    if len(json.dumps(message).encode()) > MAX_PAYLOAD:
        return "Message is too big."
    return None


async def send(request: Request) -> Response:
    state = state_of(request)
    accounts = state.push
    access = bearer_token(request)
    now = state.records.clock.now().timestamp()
    if access is None or not accounts.access_token_valid(access, now):
        return rpc_error(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
        )
    project = request.path_params["project"]
    if project != FCM_PROJECT:
        return rpc_error(403, f"Permission 'cloudmessaging.messages.create' denied on {project}.")
    try:
        document = json.loads(await request.body())
    except ValueError:
        return rpc_error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
    message = document.get("message") if isinstance(document, dict) else None
    problem = _check(message)
    if problem is not None:
        return rpc_error(400, problem, "INVALID_ARGUMENT")
    assert isinstance(message, dict)
    device = message.get("token")
    if isinstance(device, str) and (
        device.startswith(FCM_UNREGISTERED_PREFIX) or accounts.is_gone(device)
    ):
        return rpc_error(404, "Requested entity was not found.", "UNREGISTERED")
    if document.get("validate_only"):
        # FCM's documented answer to a dry run: the message is checked, not sent.
        return JSONResponse({"name": f"projects/{project}/messages/fake_message_id"})
    message_id = f"0:{secrets.randbelow(10**16):016d}%sandbox"
    notification = message.get("notification") or {}
    target = (
        device
        or (message.get("topic") and f"topic:{message['topic']}")
        or f"condition:{message['condition']}"
    )
    state.records.deliver(
        OutboxMessage(
            id=f"fcm-{message_id}",
            api="fcm",
            channel="push",
            at=state.records.clock.now(),
            sender=f"project {project}",
            to=(str(target),),
            provider_id=f"projects/{project}/messages/{message_id}",
            subject=notification.get("title"),
            text=notification.get("body"),
            details={
                "data": message.get("data"),
                "image": notification.get("image"),
                **{
                    name: message[name]
                    for name in ("android", "apns", "webpush")
                    if name in message
                },
            },
        )
    )
    note_created(request, message_id)
    return JSONResponse({"name": f"projects/{project}/messages/{message_id}"})


def fault_response(fault: Fault, path: str) -> Response:
    status = fault.status or 500
    if path == TOKEN_PATH:
        return grant_error("internal_failure", "Backend error.", status)
    if status == 429:
        seconds = fault.seconds if fault.seconds is not None else 1.0
        return rpc_error(
            429, "Quota exceeded.", "QUOTA_EXCEEDED", **{"Retry-After": f"{max(seconds, 0):g}"}
        )
    if status == 500:
        return rpc_error(500, "Internal error encountered.", "INTERNAL")
    return rpc_error(status, "The service is currently unavailable.", "UNAVAILABLE")


def _user(headers: Mapping[str, str], fields: Mapping[str, Any]) -> str | None:
    # Neither the access token nor the assertion is shown: only that one came.
    if headers.get("authorization", "").lower().startswith("bearer "):
        return "access token"
    return FCM_CLIENT_EMAIL if "assertion" in fields else None


API = EmulatedApi(
    name="fcm",
    prefixes=("/v1/projects/", TOKEN_PATH),
    routes=[
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route(SEND_PATH, send, methods=["POST"]),
    ],
    fault_response=fault_response,
    user=_user,
)
