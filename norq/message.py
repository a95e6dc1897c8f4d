"""The validated message a provider turns into a request."""

from __future__ import annotations

import re
from collections.abc import Mapping
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
    ``template`` and ``data`` say what it was rendered from (``None`` and
    empty for a ``body=`` send): providers ignore them; the test fake and
    telemetry report them.
    """

    channel: str
    to: str
    body: str | None = None
    fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    template: str | None = None
    data: Mapping[str, Any] = field(default_factory=lambda: EMPTY, repr=False)


def check_address(to: object) -> str:
    """``to`` if it can be an address on some channel: non-empty text, no surrounding spaces.

    Its format is the provider's (``Provider.recipient_formats``), which the
    router checks once the providers are known.
    """
    if not isinstance(to, str) or not to.strip():
        raise MessageError(
            f"recipient must be a non-empty string, got {to!r}", code="invalid_recipient"
        )
    if to != to.strip():
        raise MessageError(
            f"recipient {to!r} has leading or trailing whitespace", code="invalid_recipient"
        )
    return to


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
