"""Telegram's failures as Norq's normalised codes and what to do next.

The Bot API answers a failure with ``{"ok": false, "error_code": <HTTP
status>, "description": "..."}``; the description is the only thing that
tells one 400 or 403 from another, so the table is keyed by the start of
each documented description. A chat that is gone, blocked the bot or never
let it in fails everywhere (``final``); a token Telegram does not know is
this provider's problem (``failover``); flood control is ``retry`` after
``parameters.retry_after``. An unknown description is ``final``.
"""

from __future__ import annotations

import norq

E = norq.ErrorCode
RETRY = norq.Disposition.RETRY
FAILOVER = norq.Disposition.FAILOVER
FINAL = norq.Disposition.FINAL

TELEGRAM_ERRORS = norq.ErrorTable(
    {
        # The chat
        "Bad Request: chat not found": (E.INVALID_RECIPIENT, FINAL),
        "Bad Request: chat_id is empty": (E.INVALID_RECIPIENT, FINAL),
        "Bad Request: PEER_ID_INVALID": (E.INVALID_RECIPIENT, FINAL),
        "Bad Request: group chat was upgraded to a supergroup chat": (E.INVALID_RECIPIENT, FINAL),
        "Forbidden: bot can't send messages to bots": (E.INVALID_RECIPIENT, FINAL),
        "Forbidden: bot was blocked by the user": (E.RECIPIENT_OPTED_OUT, FINAL),
        "Forbidden: user is deactivated": (E.RECIPIENT_UNREACHABLE, FINAL),
        "Forbidden: bot can't initiate conversation with a user": (E.RECIPIENT_UNREACHABLE, FINAL),
        # The bot's rights in the chat
        "Forbidden: bot was kicked from the": (E.PERMISSION_DENIED, FINAL),
        "Forbidden: bot is not a member of the": (E.PERMISSION_DENIED, FINAL),
        "Bad Request: not enough rights to send": (E.PERMISSION_DENIED, FINAL),
        "Bad Request: have no rights to send a message": (E.PERMISSION_DENIED, FINAL),
        "Bad Request: need administrator rights in the channel chat": (E.PERMISSION_DENIED, FINAL),
        # The message
        "Bad Request: message is too long": (E.MESSAGE_TOO_LONG, FINAL),
        "Bad Request: message text is empty": (E.INVALID_MESSAGE, FINAL),
        "Bad Request: can't parse entities": (E.INVALID_MESSAGE, FINAL),
        "Bad Request: message thread not found": (E.INVALID_MESSAGE, FINAL),
        "Bad Request: message to be replied not found": (E.INVALID_MESSAGE, FINAL),
        "Bad Request: can't parse inline keyboard button": (E.INVALID_MESSAGE, FINAL),
        # The bot's token
        "Unauthorized": (E.INVALID_CREDENTIALS, FAILOVER),
        "Not Found": (E.INVALID_CREDENTIALS, FAILOVER),
        # Flood control
        "Too Many Requests": (E.RATE_LIMITED, RETRY),
    }
)

# Longest first, so "Forbidden: bot was kicked from the" never shadows a longer key.
_BY_LENGTH = sorted(TELEGRAM_ERRORS, key=len, reverse=True)


def error_key(description: str) -> str | None:
    """The table's key for a description (the documented start of it), or ``None``."""
    return next((key for key in _BY_LENGTH if description.startswith(key)), None)
