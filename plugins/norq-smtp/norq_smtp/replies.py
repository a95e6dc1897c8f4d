"""What an SMTP reply means for delivery. Pure: a reply in, a :class:`norq.SendResult` out.

The transport reports the server's last reply as a :class:`norq.Response`:
``status`` is the reply code, ``body`` the reply text, and the ``smtp-stage``
header the command it answered (``connect``, ``auth``, ``mail``, ``rcpt`` or
``data``). The enhanced status code (RFC 3463, ``5.1.1``) at the start of the
text refines the basic code when the server sends one.

- 2xx: accepted; the id is the ``Message-ID`` the provider generated.
- 4xx: transient (RFC 5321 §4.2.1): ``retry``, then fail over.
- 5xx for the recipient's mailbox (550/551/553 at RCPT, x.1.x, x.2.x):
  ``final``, another server cannot deliver to a mailbox that does not exist.
- 5xx about us (AUTH 530/534/535/538, x.7.x security or policy, a refused
  sender, 554 transaction failed): ``failover``, another server may accept.
- 5xx about the message (552 or x.3.4 too big, 500-504 syntax): ``final``.
"""

from __future__ import annotations

import re
from typing import Any

from norq import Disposition, ErrorCode, Response, SendResult

STAGE_HEADER = "smtp-stage"
RECIPIENT_HEADER = "smtp-recipient"

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})\b")
_AUTH_CODES = frozenset({530, 534, 535, 538})
_MAILBOX_CODES = frozenset({550, 551, 553})
_SYNTAX_CODES = frozenset({500, 501, 502, 503, 504})


def read_reply(request: Any, response: Response) -> SendResult:
    """The meaning of the server's last reply to ``request`` (a PreparedEmail)."""
    code = response.status
    if 200 <= code < 400:
        return SendResult.accepted(request.message_id)
    text = response.body.decode("utf-8", "replace").strip()
    stage = response.headers.get(STAGE_HEADER, "data")
    recipient = response.headers.get(RECIPIENT_HEADER)
    where = f"RCPT TO:<{recipient}>" if recipient else _COMMANDS.get(stage, stage)
    message = f"{code} {text} (answer to {where})" if text else f"{code} (answer to {where})"
    normalised, disposition = classify(code, stage, text)
    return SendResult.failed(normalised, message, provider_code=str(code), disposition=disposition)


_COMMANDS = {
    "connect": "the connection greeting",
    "auth": "AUTH",
    "mail": "MAIL FROM",
    "rcpt": "RCPT TO",
    "data": "DATA",
}


def classify(code: int, stage: str, text: str) -> tuple[ErrorCode, Disposition]:
    """The normalised code and disposition of a failed reply ``code`` at ``stage``."""
    enhanced = _ENHANCED.match(text)
    subject, detail = (int(enhanced[2]), int(enhanced[3])) if enhanced else (None, None)
    if 400 <= code < 500:
        if subject == 7 or code == 454:
            # Greylisting, "try again later" for too many messages: wait here.
            return ErrorCode.RATE_LIMITED, Disposition.RETRY
        return ErrorCode.PROVIDER_UNAVAILABLE, Disposition.RETRY
    if stage == "auth" or code in _AUTH_CODES or (subject, detail) in {(7, 8), (7, 9)}:
        return ErrorCode.INVALID_CREDENTIALS, Disposition.FAILOVER
    if (subject, detail) == (3, 4) or (code == 552 and subject in (None, 3)):
        return ErrorCode.MESSAGE_TOO_LONG, Disposition.FINAL
    if subject == 7:
        # Security or policy (relaying denied, spam, sender not authorised):
        # a verdict on this server's terms, not on the message's address.
        return ErrorCode.REJECTED, Disposition.FAILOVER
    if stage == "rcpt":
        if subject == 2:
            return ErrorCode.RECIPIENT_UNREACHABLE, Disposition.FINAL
        if subject == 1 or code in _MAILBOX_CODES:
            return ErrorCode.INVALID_RECIPIENT, Disposition.FINAL
    if stage == "mail" and (subject == 1 or code in _MAILBOX_CODES):
        # The next provider sends with its own account and sender.
        return ErrorCode.INVALID_SENDER, Disposition.FAILOVER
    if code in _SYNTAX_CODES:
        return ErrorCode.INVALID_MESSAGE, Disposition.FINAL
    if code == 554 or stage in ("connect", "data"):
        # "Transaction failed" or a refused connection: the server's policy.
        return ErrorCode.REJECTED, Disposition.FAILOVER
    return ErrorCode.REJECTED, Disposition.FINAL
