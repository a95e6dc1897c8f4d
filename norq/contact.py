"""A person as multi-channel notifications see them: an address per channel.

A :class:`Contact` is checked once, when it is built: every address in its
channel's format (:func:`norq.check_recipient`), and at least one address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from norq.errors import MessageError
from norq.message import EMPTY, check_recipient

#: The channels a contact holds an address for, in this order.
CONTACT_CHANNELS = ("email", "sms", "chat")


@dataclass(frozen=True, slots=True)
class Contact:
    """Where to reach one person: ``email``, ``sms`` (E.164) and ``chat`` addresses.

    ``data`` is this person's template data (a name), merged over the data
    passed to ``notify``.
    """

    email: str | None = None
    sms: str | None = None
    chat: str | None = None
    data: Mapping[str, Any] = field(default_factory=lambda: EMPTY)

    def __post_init__(self) -> None:
        given = [channel for channel in CONTACT_CHANNELS if getattr(self, channel) is not None]
        if not given:
            raise MessageError(
                "a contact needs at least one address: "
                + ", ".join(f"{c}=" for c in CONTACT_CHANNELS),
                code="invalid_recipient",
            )
        for channel in given:
            check_recipient(channel, getattr(self, channel))
        if not isinstance(self.data, Mapping):
            raise MessageError(f"contact data must be a mapping, got {type(self.data).__name__}")

    def address(self, channel: str) -> str | None:
        """The address on ``channel``, or ``None`` if this person has none there."""
        value: str | None = getattr(self, channel) if channel in CONTACT_CHANNELS else None
        return value


ContactLike = Contact | Mapping[str, Any]


def as_contact(value: ContactLike) -> Contact:
    """A :class:`Contact` from a Contact or a mapping such as ``{"email": ..., "sms": ...}``."""
    if isinstance(value, Contact):
        return value
    if not isinstance(value, Mapping):
        raise MessageError(
            "to= must be a norq.Contact or a mapping of channel to address "
            f"({', '.join(CONTACT_CHANNELS)}); got {type(value).__name__}",
            code="invalid_recipient",
        )
    unknown = sorted(str(key) for key in value if key not in (*CONTACT_CHANNELS, "data"))
    if unknown:
        raise MessageError(
            f"a contact has no {', '.join(map(repr, unknown))}; its keys are "
            + ", ".join(CONTACT_CHANNELS)
            + " and data",
            code="invalid_recipient",
        )
    data = value.get("data")
    return Contact(
        email=value.get("email"),
        sms=value.get("sms"),
        chat=value.get("chat"),
        data=EMPTY if data is None else data,
    )
