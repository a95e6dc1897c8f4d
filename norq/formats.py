"""The formats of addresses and URLs, checked once: for recipients and for config fields.

An :class:`AddressFormat` says what a piece of text must look like, with an
example, and checks it. A provider declares the format of its recipients per
channel (``Provider.recipient_formats``); the router checks every recipient
against it before a request exists. The same object annotates a config
field, ``Annotated[str, norq.HTTP_URL]``, so a plugin checks a callback URL
or a sender number exactly as Norq checks recipients, with one message.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from norq.errors import MessageError

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema


@dataclass(frozen=True, slots=True)
class AddressFormat:
    """What an address (a phone number, a URL, a device token) must look like.

    ``check`` returns the text, possibly normalised (a base URL loses its
    trailing ``/``), or raises ``ValueError`` with the reason, which never
    repeats the text (it may be a secret typed into the wrong place).
    ``what`` names the format in messages (``"an E.164 phone number"``) and
    ``example`` shows one.
    """

    what: str
    example: str
    check: Callable[[str], str]

    def validate(self, value: str) -> str:
        """``value`` in this format (normalised), or a ``ValueError`` that says how to fix it."""
        try:
            return self.check(value)
        except ValueError as exc:
            raise ValueError(f"is not {self.what}: {exc}; write it like {self.example}") from None

    def check_recipient(self, to: str, channel: str | None = None) -> str:
        """``to`` if it is a recipient in this format, else a :class:`norq.MessageError`."""
        try:
            return self.check(to)
        except ValueError as exc:
            where = f" on channel {channel!r}" if channel else ""
            raise MessageError(
                f"recipient {to!r}{where} is not {self.what}: {exc}; write it like {self.example}",
                code="invalid_recipient",
            ) from None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # Lets the format annotate a config field: Annotated[str, norq.HTTP_URL].
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.validate, handler(source))


# [0-9], not \d: \d also matches other scripts' digits ("+1٢٣٤٥٦٧٨"), which no
# provider accepts.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def is_e164(text: str) -> bool:
    """Whether ``text`` is an E.164 phone number: ``+``, then 7 to 15 ASCII digits."""
    return _E164.fullmatch(text) is not None


def _e164(value: str) -> str:
    if is_e164(value):
        return value
    raise ValueError("expected '+', the country code and the number, 7 to 15 digits in all")


def _email(value: str) -> str:
    # email-validator, the library behind pydantic's EmailStr: the syntax of
    # RFC 5322 and internationalised addresses, no DNS look-up. "test"
    # domains pass, so examples and test suites can use name@example.test.
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(str(exc).rstrip(".")) from None
    return value


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        absolute = parts.scheme in ("http", "https") and bool(parts.hostname)
        absolute = absolute and (parts.port is None or parts.port > 0)
    except ValueError:
        absolute = False
    if not absolute:
        raise ValueError("it needs http:// or https:// and a host")
    if any(char.isspace() for char in value):
        raise ValueError("it has spaces or line breaks; percent-encode them")
    return value


def _base_url(value: str) -> str:
    _http_url(value)
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise ValueError("it has a query (?...) or fragment (#...)")
    return value.rstrip("/")


#: A phone number in E.164: ``+``, the country code and the number.
E164 = AddressFormat("an E.164 phone number", "+15551234567", _e164)
#: An email address (RFC 5322 syntax, internationalised addresses too).
EMAIL = AddressFormat("an email address", "name@example.com", _email)
#: An absolute ``http://`` or ``https://`` URL (a callback, a media URL).
HTTP_URL = AddressFormat("an http(s) URL", "https://example.com/path", _http_url)
#: The root of an HTTP API: an http(s) URL without query or fragment; a trailing ``/`` is dropped.
BASE_URL = AddressFormat(
    "an http(s) URL without query or fragment", "https://api.example.com", _base_url
)
