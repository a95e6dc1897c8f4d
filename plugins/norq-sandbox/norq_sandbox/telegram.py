"""Telegram's Bot API ``sendMessage``, as the Bot API documents it.

``/bot<token>/sendMessage`` takes JSON, a form or a query string, and
answers ``{"ok": true, "result": <Message>}`` or ``{"ok": false,
"error_code": <status>, "description": "..."}`` with that HTTP status. A
token that is not this sandbox's bot answers ``401 Unauthorized`` (``404
Not Found`` when it is not even shaped like one). The text is parsed in its
``parse_mode`` as Telegram does (:mod:`norq_sandbox.telegram_markup`), and
the inbox shows what the chat would read.

Some chat ids behave like Telegram's unlucky chats, so a test can reach
each failure (docs/sandbox.md lists them): :data:`UNLUCKY_CHATS`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from norq_sandbox.emulated import MASK, EmulatedApi, note_created, read_fields
from norq_sandbox.faults import COMMON_KINDS, Fault
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.state import state_of
from norq_sandbox.telegram_markup import EntityError, plain_text

METHOD = "/bot{token}/{method}"
MAX_TEXT = 4096
BOT_USERNAME = "norq_sandbox_bot"
_TOKEN_SHAPE = re.compile(r"^[0-9]+:[A-Za-z0-9_-]+$")
_CHAT_ID = re.compile(r"^-?[1-9][0-9]{0,19}$")
_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]$")

#: Chat ids that fail as real chats do: (HTTP status, Telegram's description).
UNLUCKY_CHATS: Mapping[str, tuple[int, str]] = {
    "403000001": (403, "Forbidden: bot was blocked by the user"),
    "403000002": (403, "Forbidden: user is deactivated"),
    "403000003": (403, "Forbidden: bot can't initiate conversation with a user"),
    "-1004030000004": (403, "Forbidden: bot was kicked from the supergroup chat"),
    "-1004030000005": (403, "Forbidden: bot is not a member of the channel chat"),
    "400000001": (400, "Bad Request: chat not found"),
    "-400000002": (400, "Bad Request: group chat was upgraded to a supergroup chat"),
}
# The supergroup a migrated group (-400000002) became.
MIGRATED_TO = -1004000000002

_ids_lock = threading.Lock()
_message_ids: dict[int, itertools.count[int]] = {}


def refusal(status: int, description: str, **parameters: Any) -> Response:
    answer: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        answer["parameters"] = parameters
    return JSONResponse(answer, status)


def numeric_chat(chat: str) -> int:
    """The chat's id: the number given, or a stable made-up channel id for ``@username``."""
    if not chat.startswith("@"):
        return int(chat)
    digest = int(hashlib.sha1(chat.lower().encode()).hexdigest()[:10], 16)
    return -(1_000_000_000_000 + digest % 1_000_000_000_000)


def next_message_id(chat: int) -> int:
    # Message ids count up within each chat, as Telegram's do.
    with _ids_lock:
        counter = _message_ids.setdefault(chat, itertools.count(1))
        return next(counter)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def call_method(request: Request) -> Response:
    state = state_of(request)
    token, method = request.path_params["token"], request.path_params["method"]
    if not _TOKEN_SHAPE.fullmatch(token):
        return refusal(404, "Not Found")
    if token != state.settings.telegram_token:
        return refusal(401, "Unauthorized")
    # The Bot API's method names ignore case; this sandbox knows one.
    if method.lower() != "sendmessage":
        return refusal(404, "Not Found")
    if request.method == "GET":
        fields: dict[str, Any] | None = dict(request.query_params)
    else:
        fields = await read_fields(request)
    if fields is None:
        return refusal(400, "Bad Request: can't parse JSON")
    return send_message(request, fields)


def send_message(request: Request, fields: Mapping[str, Any]) -> Response:
    state = state_of(request)
    chat = str(fields.get("chat_id", "")).strip()
    if not chat:
        return refusal(400, "Bad Request: chat_id is empty")
    if chat in UNLUCKY_CHATS:
        status, description = UNLUCKY_CHATS[chat]
        if chat == "-400000002":
            return refusal(status, description, migrate_to_chat_id=MIGRATED_TO)
        return refusal(status, description)
    if not (_CHAT_ID.fullmatch(chat) or _USERNAME.fullmatch(chat)):
        return refusal(400, "Bad Request: chat not found")
    source = fields.get("text")
    source = "" if source is None else str(source)
    mode = fields.get("parse_mode") or None
    try:
        text = plain_text(source, None if mode is None else str(mode))
    except EntityError as exc:
        return refusal(400, f"Bad Request: can't parse entities: {exc}")
    except ValueError:
        return refusal(400, "Bad Request: unsupported parse_mode")
    if not text.strip():
        return refusal(400, "Bad Request: message text is empty")
    if utf16_length(text) > MAX_TEXT:
        return refusal(400, "Bad Request: message is too long")
    markup = fields.get("reply_markup")
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            markup = None
        if not isinstance(markup, dict):
            return refusal(400, "Bad Request: can't parse reply keyboard markup JSON object")
    chat_id = numeric_chat(chat)
    message_id = next_message_id(chat_id)
    at = state.records.clock.now()
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": {
            "id": _bot_id(state.settings.telegram_token),
            "is_bot": True,
            "first_name": "Norq sandbox",
            "username": BOT_USERNAME,
        },
        "chat": _chat(chat, chat_id),
        "date": int(time.time()),
        "text": text,
    }
    if fields.get("message_thread_id") is not None:
        message["message_thread_id"] = fields["message_thread_id"]
    if isinstance(markup, dict):
        message["reply_markup"] = markup
    state.records.deliver(
        OutboxMessage(
            id=f"telegram-{chat_id}-{message_id}",
            api="telegram",
            channel="chat",
            at=at,
            sender=f"@{BOT_USERNAME}",
            to=(chat,),
            provider_id=f"{chat_id}:{message_id}",
            text=text,
            details={
                "chat_id": chat_id,
                "format": mode,
                "source": source if mode else None,
                "message_thread_id": fields.get("message_thread_id"),
                "reply_markup": markup,
            },
        )
    )
    note_created(request, f"{chat_id}:{message_id}")
    return JSONResponse({"ok": True, "result": message})


def _chat(given: str, chat_id: int) -> dict[str, Any]:
    if given.startswith("@"):
        return {"id": chat_id, "title": given[1:], "username": given[1:], "type": "channel"}
    if chat_id > 0:
        return {"id": chat_id, "first_name": "Sandbox user", "type": "private"}
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "title": "Sandbox group", "type": kind}


def _bot_id(token: str) -> int:
    return int(token.split(":", 1)[0])


def fault_response(fault: Fault, path: str) -> Response:
    if fault.kind == "429":
        seconds = fault.seconds if fault.seconds is not None else 1.0
        # Telegram's flood control says how long in parameters.retry_after, in whole
        # seconds; a fraction is kept so tests can wait less than one.
        wait: float | int = int(seconds) if seconds == math.floor(seconds) else seconds
        return refusal(
            429, f"Too Many Requests: retry after {math.ceil(seconds)}", retry_after=wait
        )
    status = fault.status or 500
    if status == 500:
        return refusal(500, "Internal Server Error")
    # Before the Bot API server: the proxy's own page.
    reason = "Bad Gateway" if status == 502 else "Service Temporarily Unavailable"
    page = f"<html><head><title>{status} {reason}</title></head><body>{reason}</body></html>"
    return HTMLResponse(page, status)


def _public_path(path: str) -> str:
    # The bot token is in the path: keep the bot's number, mask its secret.
    match = re.fullmatch(r"/bot([0-9]+):[^/]*(/.*)?", path)
    if match is None:
        return path
    return f"/bot{match.group(1)}:{MASK}{match.group(2) or ''}"


def _user(headers: Mapping[str, str], fields: Mapping[str, Any]) -> str | None:
    return None


API = EmulatedApi(
    name="telegram",
    prefixes=("/bot",),
    routes=[Route(METHOD, call_method, methods=["GET", "POST"])],
    fault_response=fault_response,
    user=_user,
    faults=COMMON_KINDS,
    public_path=_public_path,
)
