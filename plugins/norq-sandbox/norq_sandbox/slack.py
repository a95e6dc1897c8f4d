"""Slack's ``chat.postMessage`` and incoming webhooks, as Slack documents them.

``POST /api/chat.postMessage`` takes a bot token (``Authorization: Bearer``,
or a ``token`` field in a form, never in JSON) and JSON or a form; it
answers ``200`` with ``{"ok": true, "channel", "ts", "message"}`` or ``{"ok":
false, "error": "..."}``, and ``429`` with ``Retry-After`` when rate limited.
An incoming webhook, ``POST /services/T.../B.../...`` with JSON, answers
``200`` and the text ``ok``, or an HTTP error whose body names the problem
(``invalid_payload``, ``no_text``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from norq_sandbox.emulated import MASK, EmulatedApi, bearer_token, note_created, read_fields
from norq_sandbox.faults import COMMON_KINDS, Fault
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.state import state_of

POST_MESSAGE = "/api/chat.postMessage"
WEBHOOK = "/services/{team}/{bot}/{secret}"
MAX_TEXT = 40000
MAX_BLOCKS = 50
BOT_ID = "B0SANDBOX01"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
_WEBHOOK_PART = {"team": re.compile(r"^T[A-Z0-9]+$"), "bot": re.compile(r"^B[A-Z0-9]+$")}
_ts_lock = threading.Lock()
_ts_counter = itertools.count()


def channel_id(channel: str) -> str:
    """An ID as given, or a stable made-up one for a name such as ``#alerts``."""
    if _CHANNEL_ID.fullmatch(channel):
        return channel
    digest = hashlib.sha1(channel.lstrip("#").encode()).hexdigest().upper()
    return "C" + digest[:10]


def new_ts() -> str:
    """A message timestamp as Slack writes it, unique within the process."""
    with _ts_lock:
        return f"{int(time.time())}.{next(_ts_counter) % 1_000_000:06d}"


def refusal(error: str) -> Response:
    return JSONResponse({"ok": False, "error": error})


def check(fields: Mapping[str, Any]) -> str | None:
    """Slack's error string for a chat.postMessage that would fail, or None."""
    channel = fields.get("channel")
    if not isinstance(channel, str) or not channel.strip():
        return "channel_not_found"
    blocks = fields.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return "invalid_blocks_format"
    if blocks is not None and (not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS):
        return "invalid_blocks"
    text = fields.get("text")
    if not text and not blocks and not fields.get("attachments"):
        return "no_text"
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return "msg_too_long"
    return None


async def post_message(request: Request) -> Response:
    state = state_of(request)
    fields = await read_fields(request)
    if fields is None:
        return refusal("invalid_json")
    # A token may come as a form field; in a JSON body Slack ignores it and
    # wants the Authorization header.
    form_token = None if _is_json(request) else fields.get("token")
    token = bearer_token(request) or form_token
    if not token:
        return refusal("not_authed")
    if token != state.settings.slack_token:
        return refusal("invalid_auth")
    error = check(fields)
    if error is not None:
        return refusal(error)
    channel = channel_id(str(fields["channel"]).strip())
    ts = new_ts()
    text = fields.get("text") or ""
    message: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "text": text,
        "ts": ts,
        "bot_id": BOT_ID,
    }
    if fields.get("username"):
        message["username"] = fields["username"]
    if fields.get("blocks"):
        message["blocks"] = fields["blocks"]
    if fields.get("thread_ts"):
        message["thread_ts"] = fields["thread_ts"]
    state.records.deliver(
        OutboxMessage(
            id=f"{channel}-{ts}",
            api="slack",
            channel="chat",
            at=state.records.clock.now(),
            sender=fields.get("username") or BOT_ID,
            to=(str(fields["channel"]),),
            provider_id=ts,
            text=text,
            details={
                "channel_id": channel,
                "thread_ts": fields.get("thread_ts"),
                "blocks": fields.get("blocks"),
            },
        )
    )
    note_created(request, ts)
    return JSONResponse({"ok": True, "channel": channel, "ts": ts, "message": message})


async def incoming_webhook(request: Request) -> Response:
    state = state_of(request)
    parts = request.path_params
    if not all(pattern.fullmatch(parts[name]) for name, pattern in _WEBHOOK_PART.items()):
        return PlainTextResponse("no_service", 404)
    try:
        payload = json.loads(await request.body())
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return PlainTextResponse("invalid_payload", 400)
    if not payload.get("text") and not payload.get("blocks") and not payload.get("attachments"):
        return PlainTextResponse("no_text", 400)
    text = payload.get("text") or ""
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return PlainTextResponse("msg_too_long", 400)
    ts = new_ts()
    webhook = f"{parts['team']}/{parts['bot']}"
    state.records.deliver(
        OutboxMessage(
            id=f"{parts['bot']}-{ts}",
            api="slack-webhook",
            channel="chat",
            at=state.records.clock.now(),
            sender=payload.get("username") or f"webhook {webhook}",
            to=(str(payload.get("channel") or f"webhook {webhook}"),),
            provider_id=ts,
            text=str(text),
            details={"webhook": webhook, "blocks": payload.get("blocks")},
        )
    )
    note_created(request, ts)
    return PlainTextResponse("ok")


def _is_json(request: Request) -> bool:
    return "json" in request.headers.get("content-type", "").lower()


def fault_response(fault: Fault, path: str) -> Response:
    webhook = path.startswith("/services/")
    if fault.kind == "429":
        seconds = fault.seconds if fault.seconds is not None else 1.0
        headers = {"Retry-After": f"{max(seconds, 0):g}"}
        if webhook:
            return PlainTextResponse("rate_limited", 429, headers=headers)
        return JSONResponse({"ok": False, "error": "ratelimited"}, 429, headers=headers)
    if fault.kind == "body-error":
        # A webhook has no 200 that fails; Slack answers its internal failures with 500.
        if webhook:
            return PlainTextResponse("rollup_error", 500)
        # "It's possible some aspect of the operation succeeded": the message was
        # posted (body_error_accepts), and the answer says it failed.
        return refusal("internal_error")
    status = fault.status or 500
    if webhook:
        return PlainTextResponse("rollup_error", status)
    if status == 503:
        return JSONResponse({"ok": False, "error": "service_unavailable"}, status)
    # A failure before Slack's API ran (its edge): nothing was posted.
    return PlainTextResponse("Internal Server Error" if status == 500 else "Bad Gateway", status)


def _public_path(path: str) -> str:
    # An incoming webhook's URL is its credential: its last part stays out of the logs.
    if path.startswith("/services/") and path.count("/") >= 4:
        return path.rsplit("/", 1)[0] + "/" + MASK
    return path


def _user(headers: Mapping[str, str], fields: Mapping[str, Any]) -> str | None:
    # A Slack token is the whole secret: log only that one was given.
    has_token = headers.get("authorization", "").lower().startswith("bearer ") or "token" in fields
    return "token" if has_token else None


API = EmulatedApi(
    name="slack",
    prefixes=("/api/", "/services/"),
    routes=[
        Route(POST_MESSAGE, post_message, methods=["POST"]),
        Route(WEBHOOK, incoming_webhook, methods=["POST"]),
    ],
    fault_response=fault_response,
    user=_user,
    faults=COMMON_KINDS | {"body-error"},
    public_path=_public_path,
    body_error_accepts=lambda path: path == POST_MESSAGE,
)
