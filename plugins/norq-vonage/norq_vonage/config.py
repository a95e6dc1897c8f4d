"""``providers.<name>.config`` for Vonage, checked once when the config loads."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr

import norq

DEFAULT_BASE_URL = "https://rest.nexmo.com"

# Vonage takes numbers in E.164 without the "+", and alphanumeric sender IDs
# of up to 11 characters (letters, digits, spaces; at least one letter).
_NUMBER = re.compile(r"\+?[1-9]\d{6,14}")
_ALPHANUMERIC = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")


def _sender(value: str) -> str:
    if _NUMBER.fullmatch(value):
        return value.removeprefix("+")
    if _ALPHANUMERIC.fullmatch(value):
        return value
    raise ValueError(
        "is not a sender Vonage accepts: use a number in international format "
        "(447700900000, with or without '+') or an alphanumeric sender ID of up to "
        "11 letters, digits and spaces with at least one letter"
    )


#: An id from India's DLT registry (a Principal Entity, a content template): digits.
DLT_ID = re.compile(r"[0-9]{1,30}")
DLT_HINT = "the DLT id as your DLT portal shows it, digits only, as text (1101456789012345678)"


def _entity_id(value: str) -> str:
    if not DLT_ID.fullmatch(value):
        raise ValueError(f"must be {DLT_HINT}")
    return value


def _not_blank(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("is empty; set it to the value shown in the Vonage API Dashboard")
    return value


class VonageConfig(norq.ProviderConfig):
    """Vonage settings. ``from`` is spelled ``from_`` in Python (``from`` in YAML)."""

    api_key: Annotated[SecretStr, AfterValidator(_not_blank)] = Field(
        description="API key (Vonage API Dashboard); sent in the body, redacted everywhere"
    )
    api_secret: Annotated[SecretStr, AfterValidator(_not_blank)] = Field(
        description="API secret; sent in the body, redacted everywhere"
    )
    from_: Annotated[str, AfterValidator(_sender)] = Field(
        alias="from", description="Sender: a number (447700900000) or an alphanumeric ID"
    )
    callback: Annotated[str, norq.HTTP_URL] | None = Field(
        default=None, description="Default URL for delivery receipts"
    )
    entity_id: Annotated[str, AfterValidator(_entity_id)] | None = Field(
        default=None,
        description="India's DLT Principal Entity id, sent with every message unless one "
        "gives its own",
    )
    base_url: Annotated[str, norq.BASE_URL] = Field(
        default=DEFAULT_BASE_URL, description="API root (tests, sandbox)"
    )
