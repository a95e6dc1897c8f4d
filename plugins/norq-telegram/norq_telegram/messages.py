"""What a Telegram message may hold, checked before any request, and its JSON.

The recipient is a chat: a user's, group's or channel's numeric id, or a
public channel's ``@username``. Options map onto ``sendMessage``'s own
parameters; anything Telegram would refuse for its shape is refused here,
before a request exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import norq
from norq_telegram.markup import PARSE_MODES, ParseMode

#: The Bot API's limit on a message's text, in UTF-16 code units after entity parsing.
MAX_TEXT = 4096
# A chat id: users are positive, groups negative, supergroups and channels -100...
_CHAT_ID = re.compile(r"-?[1-9][0-9]{0,19}")
# A public channel or supergroup: @ and 5 to 32 letters, digits and underscores.
_USERNAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]")

#: Per-message options and what each must be.
SWITCHES = ("disable_notification", "protect_content", "disable_link_preview")
NUMBERS = ("message_thread_id", "reply_to")
OPTIONS = frozenset({"parse_mode", "reply_markup", *SWITCHES, *NUMBERS})


def _chat(to: str) -> str:
    if _CHAT_ID.fullmatch(to) or _USERNAME.fullmatch(to):
        return to
    raise ValueError(
        "use the chat's numeric id (a user's 123456789, a group's -1001234567890) or a "
        "public channel's @username"
    )


#: A chat id or a public channel's ``@username``.
TELEGRAM_CHAT = norq.AddressFormat("a Telegram chat", "-1001234567890", _chat)


def chat_id(to: str) -> int | str:
    """The ``chat_id`` as the Bot API documents it: an integer, or ``@username`` text."""
    return to if to.startswith("@") else int(to)


def utf16_length(text: str) -> int:
    """The length Telegram measures: UTF-16 code units (an emoji may count twice)."""
    return len(text.encode("utf-16-le")) // 2


def parse_mode(fields: Mapping[str, Any], configured: ParseMode | None) -> ParseMode | None:
    """The message's own ``parse_mode`` (``None`` there means plain text), else the instance's."""
    if "parse_mode" not in fields:
        return configured
    mode = fields["parse_mode"]
    if mode is None or mode in PARSE_MODES:
        return mode  # type: ignore[no-any-return]
    raise norq.MessageError(
        f"parse_mode must be one of {', '.join(PARSE_MODES)} or None (plain text), got {mode!r}"
    )


def check(message: norq.Message, mode: ParseMode | None) -> None:
    """What Telegram would refuse for its shape: text length (plain text) and options."""
    text = message.body or ""
    if mode is None and utf16_length(text) > MAX_TEXT:
        raise norq.MessageError(
            f"the text is {utf16_length(text)} characters (UTF-16 units); Telegram accepts at "
            f"most {MAX_TEXT}: shorten it or send it as several messages",
            code="message_too_long",
        )
    fields = message.fields
    for switch in SWITCHES:
        if switch in fields and not isinstance(fields[switch], bool):
            raise norq.MessageError(f"{switch} must be True or False, got {fields[switch]!r}")
    for number in NUMBERS:
        value = fields.get(number)
        if number in fields and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise norq.MessageError(
                f"{number} must be a positive message or topic id, got {value!r}"
            )
    if "reply_markup" in fields:
        reply_markup(fields["reply_markup"])


def reply_markup(value: Any) -> dict[str, Any]:
    """An inline keyboard or another reply markup, as a mapping; JSON text is read."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise norq.MessageError(f"reply_markup is text but not JSON: {exc}") from None
    kinds = ("inline_keyboard", "keyboard", "remove_keyboard", "force_reply")
    if not isinstance(value, Mapping) or not any(kind in value for kind in kinds):
        raise norq.MessageError(
            "reply_markup must be a mapping with one of inline_keyboard, keyboard, "
            'remove_keyboard or force_reply, e.g. {"inline_keyboard": [[{"text": "Open", '
            '"url": "https://example.com"}]]}'
        )
    return dict(value)


def payload(message: norq.Message, mode: ParseMode | None) -> dict[str, Any]:
    """``sendMessage``'s JSON body for ``message``, sent with ``mode``."""
    fields = message.fields
    body: dict[str, Any] = {"chat_id": chat_id(message.to), "text": message.body or ""}
    if mode is not None:
        body["parse_mode"] = mode
    if "message_thread_id" in fields:
        body["message_thread_id"] = fields["message_thread_id"]
    for switch in ("disable_notification", "protect_content"):
        if switch in fields:
            body[switch] = fields[switch]
    if "disable_link_preview" in fields:
        body["link_preview_options"] = {"is_disabled": fields["disable_link_preview"]}
    if "reply_to" in fields:
        body["reply_parameters"] = {"message_id": fields["reply_to"]}
    if "reply_markup" in fields:
        body["reply_markup"] = reply_markup(fields["reply_markup"])
    return body
