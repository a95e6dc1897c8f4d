"""Telegram's Bot API ``sendMessage`` as a prepared request.

The bot token is part of the URL (``/bot<token>/sendMessage``), so the URL
is marked secret: logs show only the host, and dry runs mask the token. The
Bot API answers JSON both ways: ``{"ok": true, "result": <Message>}``, or
``{"ok": false, "error_code", "description", "parameters"}`` with an HTTP
error status; ``parameters.retry_after`` is flood control's wait.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import norq
from norq_telegram.config import TelegramConfig
from norq_telegram.errors import TELEGRAM_ERRORS, error_key
from norq_telegram.markup import ESCAPES
from norq_telegram.messages import OPTIONS, TELEGRAM_CHAT, check, parse_mode, payload, utf16_length

ANSWERED = frozenset({200})
JSON_UTF8 = "application/json; charset=utf-8"
#: Telegram's documented pace for a bot: about 30 messages a second in all.
BOT_RATE = 30.0
_SNIPPET = 200
# Failures that are not JSON (a proxy's 502 page) are read by their status alone.
_BY_STATUS = norq.ErrorFormat(code_path=None, message_path=None)


class TelegramProvider(norq.Provider[TelegramConfig]):
    """Sends to a chat with ``sendMessage``; the receipt id is ``chat_id:message_id``."""

    name = "telegram"
    channels = frozenset({"chat"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"chat": TELEGRAM_CHAT}
    env_prefix = "TELEGRAM"
    description = "Telegram Bot API sendMessage; parse modes MarkdownV2, HTML, Markdown"
    message_fields: ClassVar[frozenset[str]] = OPTIONS
    default_rate_limits = norq.RateLimits(requests_per_second=BOT_RATE)

    def __init__(self, config: TelegramConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        token = config.bot_token.get_secret_value()
        self._url = f"{config.base_url}/bot{token}/sendMessage"

    def check_message(self, message: norq.Message) -> None:
        super().check_message(message)
        check(message, parse_mode(message.fields, self.config.parse_mode))

    def text_escape(self, fields: Mapping[str, Any]) -> Callable[[str], str] | None:
        mode = parse_mode(fields, self.config.parse_mode)
        return None if mode is None else ESCAPES[mode]

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        mode = parse_mode(message.fields, self.config.parse_mode)
        return norq.PreparedRequest(
            method="POST",
            url=self._url,
            headers=(("Content-Type", JSON_UTF8),),
            json=payload(message, mode),
            success_statuses=ANSWERED,
            retry=self.retry,
            errors=_BY_STATUS,
            secret_url=True,
        )

    def describe(self, message: norq.Message) -> Mapping[str, str]:
        mode = parse_mode(message.fields, self.config.parse_mode)
        return {
            "parse_mode": mode or "none (plain text)",
            "characters": str(utf16_length(message.body or "")),
        }

    def read_send(self, request: Any, response: norq.Response) -> norq.SendResult:
        try:
            data = json.loads(response.body)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
            if response.status in ANSWERED:
                return _unreadable(response)
            return super().read_send(request, response)
        if data["ok"]:
            return _sent(response, data)
        return _refused(response, data)


def _sent(response: norq.Response, data: dict[str, Any]) -> norq.SendResult:
    result = data.get("result")
    message_id = result.get("message_id") if isinstance(result, dict) else None
    chat = result.get("chat") if isinstance(result, dict) else None
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    if not _is_id(message_id) or not _is_id(chat_id):
        return _unreadable(response)
    # A message id is unique only within its chat.
    return norq.SendResult.accepted(f"{chat_id}:{message_id}", data=data)


def _refused(response: norq.Response, data: dict[str, Any]) -> norq.SendResult:
    description = str(data.get("description") or f"HTTP {response.status}")
    parameters = data.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    message = f"Telegram: {description}"
    migrated = parameters.get("migrate_to_chat_id")
    if _is_id(migrated):
        message += f" (the group is now the supergroup {migrated}: send to that id)"
    retry_after = _seconds(parameters.get("retry_after"))
    if retry_after is None:
        retry_after = _seconds(response.header("retry-after"))
    key = error_key(description)
    if key is not None:
        meaning = TELEGRAM_ERRORS[key]
        code, disposition = meaning.code, meaning.disposition
    elif response.status == 429:
        code, disposition = norq.ErrorCode.RATE_LIMITED, norq.Disposition.RETRY
    elif response.status >= 500:
        code, disposition = norq.ErrorCode.PROVIDER_UNAVAILABLE, norq.Disposition.RETRY
    elif response.status == 403:
        # Some other reason this bot may not write to this chat.
        code, disposition = norq.ErrorCode.PERMISSION_DENIED, norq.Disposition.FINAL
    else:
        code, disposition = TELEGRAM_ERRORS.unknown.code, TELEGRAM_ERRORS.unknown.disposition
    return norq.SendResult.failed(
        code,
        message,
        provider_code=description,
        disposition=disposition,
        retry_after=retry_after,
        data=data,
    )


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(value: Any) -> float | None:
    """A wait in seconds from ``retry_after`` (a number) or ``Retry-After`` (text)."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if 0 <= seconds < float("inf") else None


def _unreadable(response: norq.Response) -> norq.SendResult:
    snippet = response.body[:_SNIPPET].decode("utf-8", "replace").strip()
    # Sent or not, nobody can tell: neither retry nor fail over.
    return norq.SendResult.failed(
        norq.ErrorCode.BAD_RESPONSE,
        f"Telegram answered HTTP {response.status} with something unexpected: "
        f"{snippet or '(empty)'}",
    )
