"""A person as multi-channel notifications see them: an address per channel, any channel.

A :class:`Contact` holds addresses for whatever channels the installed
providers serve (``email``, ``sms``, ``push``, a plugin's own). When it is
built it checks that it has at least one address and that each is text;
each address's format is its provider's, checked by the router before
anything is sent (:attr:`norq.Provider.recipient_formats`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from norq.errors import MessageError
from norq.message import EMPTY, check_address


class Contact:
    """Where to reach one person: an address per channel.

    ``Contact(email="ada@example.com", sms="+15551234567", push=token)``, or
    ``Contact({"pager": "ADA-7"})`` for channel names that are not Python
    identifiers. ``data`` is this person's template data (a name), merged
    over the data passed to ``notify``.
    """

    __slots__ = ("addresses", "data")

    addresses: Mapping[str, str]
    data: Mapping[str, Any]

    def __init__(
        self,
        addresses: Mapping[str, str] | None = None,
        /,
        *,
        data: Mapping[str, Any] | None = None,
        **by_channel: str | None,
    ) -> None:
        if addresses is not None and not isinstance(addresses, Mapping):
            raise MessageError(
                "a contact's addresses are a mapping of channel to address, got "
                f"{type(addresses).__name__}",
                code="invalid_recipient",
            )
        merged = {**(addresses or {}), **by_channel}
        given = {
            str(channel): check_address(address)
            for channel, address in merged.items()
            if address is not None
        }
        if not given:
            raise MessageError(
                "a contact needs at least one address: Contact(email=..., sms=..., push=...), "
                "one keyword per channel",
                code="invalid_recipient",
            )
        if data is None:
            data = EMPTY
        elif not isinstance(data, Mapping):
            raise MessageError(f"contact data must be a mapping, got {type(data).__name__}")
        object.__setattr__(self, "addresses", MappingProxyType(given))
        object.__setattr__(self, "data", data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Contact is immutable; build a new one")

    def address(self, channel: str) -> str | None:
        """The address on ``channel``, or ``None`` if this person has none there."""
        return self.addresses.get(channel)

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels this person has an address on."""
        return tuple(self.addresses)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Contact):
            return NotImplemented
        return dict(self.addresses) == dict(other.addresses) and dict(self.data) == dict(other.data)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{channel}={address!r}" for channel, address in self.addresses.items())
        return f"Contact({shown})"


ContactLike = Contact | Mapping[str, Any]


def as_contact(value: ContactLike) -> Contact:
    """A :class:`Contact` from a Contact or a mapping ``{"email": ..., "data": ...}``."""
    if isinstance(value, Contact):
        return value
    if not isinstance(value, Mapping):
        raise MessageError(
            "to= must be a norq.Contact or a mapping of channel to address (and data); "
            f"got {type(value).__name__}",
            code="invalid_recipient",
        )
    addresses = {str(key): item for key, item in value.items() if key != "data"}
    return Contact(addresses, data=value.get("data"))
