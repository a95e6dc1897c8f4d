"""The validated message a provider turns into a request."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from norq.errors import MessageError

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Message:
    """One notification for one recipient, after routing and template rendering.

    ``fields`` carries provider-specific per-message options (``media_urls``,
    ``send_at``...) and any extra rendered template parts such as ``subject``.
    """

    channel: str
    to: str
    body: str | None = None
    fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


# [0-9], not \d: \d also matches other scripts' digits ("+1٢٣٤٥٦٧٨"), which no
# provider accepts.
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def is_e164(text: str) -> bool:
    """Whether ``text`` is an E.164 phone number: ``+``, then 7 to 15 ASCII digits."""
    return E164.fullmatch(text) is not None


def _check_e164(to: str) -> str:
    if is_e164(to):
        return to
    raise MessageError(
        f"recipient {to!r} is not an E.164 phone number: write it as '+' followed by "
        "the country code and number, digits only (e.g. +15551234567)",
        code="invalid_recipient",
    )


def _check_email(to: str) -> str:
    # email-validator, the library behind pydantic's EmailStr: the syntax of
    # RFC 5322 and internationalised addresses, no DNS look-up. "test"
    # domains pass, so examples and test suites can use name@example.test.
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(to, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise MessageError(
            f"recipient {to!r} is not an email address: {exc} Write it as name@example.com",
            code="invalid_recipient",
        ) from None
    return to


def _check_whatsapp(to: str) -> str:
    if to.startswith("whatsapp:") and is_e164(to.removeprefix("whatsapp:")):
        return to
    raise MessageError(
        f"recipient {to!r} is not a WhatsApp address (expected whatsapp:+15551234567)",
        code="invalid_recipient",
    )


# Channels whose recipient format Norq knows. Other channels accept any
# non-blank recipient and leave the format to their provider.
RECIPIENT_FORMATS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {
        "sms": _check_e164,
        "mms": _check_e164,
        "voice": _check_e164,
        "email": _check_email,
        "whatsapp": _check_whatsapp,
    }
)


def check_recipient(channel: str, to: object) -> str:
    """Return ``to`` if it is a well-formed recipient for ``channel``, else raise."""
    if not isinstance(to, str) or not to.strip():
        raise MessageError(
            f"recipient must be a non-empty string, got {to!r}", code="invalid_recipient"
        )
    if to != to.strip():
        raise MessageError(
            f"recipient {to!r} has leading or trailing whitespace", code="invalid_recipient"
        )
    check = RECIPIENT_FORMATS.get(channel)
    return check(to) if check else to


# C0 controls other than tab, newline and carriage return, DEL, and the C1
# controls: no SMS, email or chat API renders them, and a NUL truncates the
# body in some gateways.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_body(body: object, *, source: str = "body") -> str:
    """Return ``body`` if it is text worth sending, else raise :class:`MessageError`.

    ``source`` names where the body came from in the error (``body=``, a template).
    """
    if not isinstance(body, str):
        raise MessageError(
            f"{source} must be a string, got {type(body).__name__} {body!r}; "
            f"convert it first (for example body=str(value))",
            code="invalid_message",
        )
    if not body.strip():
        what = "empty" if not body else "only whitespace"
        raise MessageError(f"{source} is {what}; give the text to send", code="invalid_message")
    control = _CONTROL.search(body)
    if control is not None:
        char = control.group()
        raise MessageError(
            f"{source} contains the control character U+{ord(char):04X} at position "
            f"{control.start()}; remove it (tabs and line breaks are allowed)",
            code="invalid_message",
        )
    return body
