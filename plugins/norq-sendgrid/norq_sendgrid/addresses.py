"""Email addresses as SendGrid takes them, checked with email-validator."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def check_address(value: object, where: str, *, show: bool = False) -> str:
    """``value`` if it is one email address, else a ValueError naming ``where``.

    ``show`` puts the rejected value in the message: yes for a message's
    options, no for config (a secret typed into the wrong key must not echo).
    """
    if not isinstance(value, str):
        raise ValueError(f"{where} must be an email address as text, got {type(value).__name__}")
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        shown = f" {value!r}" if show else ""
        raise ValueError(f"{where}{shown} is not an email address: {exc}") from None
    return value
