"""``providers.<name>.config`` for SendGrid, checked once when the config loads."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr

import norq
from norq_sendgrid.addresses import check_address

DEFAULT_BASE_URL = "https://api.sendgrid.com"


def _not_blank(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("is empty; create an API key with Mail Send access in SendGrid")
    return value


def _sender(value: str) -> str:
    return check_address(value, "from")


class SendGridConfig(norq.ProviderConfig):
    """SendGrid settings. ``from`` is spelled ``from_`` in Python (``from`` in YAML)."""

    api_key: Annotated[SecretStr, AfterValidator(_not_blank)] = Field(
        description="API key with Mail Send access, sent as a Bearer token"
    )
    from_: Annotated[str, AfterValidator(_sender)] = Field(
        alias="from", description="Sender address (a verified Sender Identity)"
    )
    from_name: str | None = Field(default=None, description="Sender display name")
    sandbox_mode: bool = Field(
        default=False, description="Validate mail without delivering it (SendGrid sandbox mode)"
    )
    base_url: Annotated[str, norq.BASE_URL] = Field(
        default=DEFAULT_BASE_URL, description="API root (EU: https://api.eu.sendgrid.com)"
    )
