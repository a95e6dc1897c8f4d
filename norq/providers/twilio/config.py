"""``providers.<name>.config`` for Twilio: every key checked once, at load time.

Only ``account_sid`` is required by the model itself, so setting
``NORQ_TWILIO_ACCOUNT_SID`` is what configures Twilio from the environment;
the rules that tie keys together (one auth mode, one sender) are checked
after the fields and name both keys involved.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    SecretStr,
    model_validator,
)

from norq.formats import BASE_URL, HTTP_URL, is_e164
from norq.provider_config import ProviderConfig

DEFAULT_BASE_URL = "https://api.twilio.com"
DEFAULT_REGION = "us1"
MAX_VALIDITY_PERIOD = 14400

ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
API_KEY_SID = re.compile(r"SK[0-9a-fA-F]{32}")
MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
SHORT_CODE_MAX_DIGITS = 8
SHORT_CODE = re.compile(rf"[0-9]{{3,{SHORT_CODE_MAX_DIGITS}}}")
# Twilio: up to 11 of A-Z, a-z, 0-9 and space, with at least one letter.
ALPHANUMERIC_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_HOST_LABEL = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _check_sid(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.fullmatch(value):
        prefix = pattern.pattern[:2]
        raise ValueError(
            f"is not a {what}: expected {prefix!r} followed by 32 hex digits, "
            "as shown in the Twilio Console"
        )
    return value


def check_http_url(value: str, what: str) -> str:
    """``value`` if it is an absolute http(s) URL, else a ValueError that starts with ``what``.

    Config errors never repeat the value: it may be a secret typed into the wrong key.
    """
    try:
        return HTTP_URL.validate(value)
    except ValueError as exc:
        raise ValueError(f"{what} {exc}") from None


def _account_sid(value: str) -> str:
    return _check_sid(value, ACCOUNT_SID, "Twilio Account SID")


def _api_key_sid(value: str | None) -> str | None:
    return None if value is None else _check_sid(value, API_KEY_SID, "Twilio API Key SID")


def _messaging_service_sid(value: str | None) -> str | None:
    if value is None:
        return None
    return _check_sid(value, MESSAGING_SERVICE_SID, "Twilio Messaging Service SID")


def _secret_not_blank(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value().strip():
        raise ValueError("is empty; set the value or remove the key")
    return value


def _sender_from_yaml_number(value: Any) -> Any:
    # YAML reads an unquoted +447700900000 as the number 447700900000, dropping
    # the plus. Nine digits or more cannot be a short code, so it was a phone
    # number; a shorter one is a short code, which is digits anyway.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        digits = str(value)
        return f"+{digits}" if len(digits) > SHORT_CODE_MAX_DIGITS else digits
    return value


def _sender(value: str | None) -> str | None:
    if value is None:
        return None
    if is_e164(value) or SHORT_CODE.fullmatch(value):
        return value
    if ALPHANUMERIC_SENDER.fullmatch(value):
        return value
    raise ValueError(
        "is not a sender Twilio accepts: use an E.164 number (+15551234567), "
        "a short code (digits only) or an alphanumeric sender ID (up to 11 letters, "
        "digits and spaces, at least one letter)"
    )


def _status_callback(value: str | None) -> str | None:
    """A status callback URL Twilio accepts; the config's, or a message's own."""
    if value is None:
        return None
    check_http_url(value, "status_callback")
    if "_" in (urlsplit(value).hostname or ""):
        raise ValueError(
            "status_callback: Twilio rejects hostnames containing '_'; "
            "use a hostname without underscores"
        )
    return value


def _max_price(value: Any) -> Decimal | None:
    # Parsed from the text as written: a YAML float such as 0.05 must not
    # become 0.05000000000000000277 on its way to Twilio.
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError('must be a decimal number of US dollars, such as "0.05"')
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError('is not a decimal number of US dollars (write it like "0.05")') from None
    if not price.is_finite() or price <= 0:
        raise ValueError("must be a positive amount of US dollars")
    exponent = price.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        raise ValueError("has more than 4 decimal places; Twilio accepts up to 4")
    return price


def _base_url(value: str | None) -> str | None:
    if value is None:
        return None
    return BASE_URL.validate(value)


def _host_label(value: str | None) -> str | None:
    if value is not None and not _HOST_LABEL.fullmatch(value):
        raise ValueError(
            "is not a Twilio edge or region name: use lowercase letters, "
            "digits and '-' (edge: dublin, region: ie1)"
        )
    return value


Secret = Annotated[SecretStr | None, AfterValidator(_secret_not_blank)]


check_status_callback = _status_callback


class TwilioConfig(ProviderConfig):
    """Twilio settings. ``from`` is spelled ``from_`` in Python (``from`` in YAML)."""

    account_sid: Annotated[str, AfterValidator(_account_sid)] = Field(
        description="Your Account SID (AC...)"
    )
    api_key_sid: Annotated[str | None, AfterValidator(_api_key_sid)] = Field(
        default=None, description="API key SID (SK...)"
    )
    api_key_secret: Secret = Field(default=None, description="API key secret")
    auth_token: Secret = Field(default=None, description="Auth token (instead of an API key)")
    from_: Annotated[
        str | None, BeforeValidator(_sender_from_yaml_number), AfterValidator(_sender)
    ] = Field(default=None, alias="from", description="Sender: number, short code or ID")
    messaging_service_sid: Annotated[str | None, AfterValidator(_messaging_service_sid)] = Field(
        default=None, description="Messaging Service SID (MG...)"
    )
    status_callback: Annotated[str | None, AfterValidator(_status_callback)] = Field(
        default=None, description="URL for delivery status callbacks"
    )
    max_price: Annotated[Decimal | None, PlainValidator(_max_price)] = Field(
        default=None,
        description="Highest price per message, in USD",
        json_schema_extra={"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]},
    )
    validity_period: int | None = Field(
        default=None, ge=1, le=MAX_VALIDITY_PERIOD, description="Seconds a message may queue"
    )
    base_url: Annotated[str | None, AfterValidator(_base_url)] = Field(
        default=None, description="API root (tests, sandbox)"
    )
    edge: Annotated[str | None, AfterValidator(_host_label)] = Field(
        default=None, description="Twilio edge location"
    )
    region: Annotated[str | None, AfterValidator(_host_label)] = Field(
        default=None, description="Twilio region"
    )
    webhook_auth_token: Secret = Field(
        default=None, description="Auth token that signs webhooks (API-key auth)"
    )

    @model_validator(mode="after")
    def _one_auth_mode_and_one_sender(self) -> Self:
        has_key = self.api_key_sid is not None or self.api_key_secret is not None
        if has_key and (self.api_key_sid is None or self.api_key_secret is None):
            missing = "api_key_secret" if self.api_key_secret is None else "api_key_sid"
            raise ValueError(f"api_key_sid and api_key_secret go together; {missing} is missing")
        if has_key and self.auth_token is not None:
            raise ValueError("set either api_key_sid + api_key_secret or auth_token, not both")
        if not has_key and self.auth_token is None:
            raise ValueError(
                "no credentials: set api_key_sid + api_key_secret (recommended) or auth_token"
            )
        if self.auth_token is not None and self.webhook_auth_token is not None:
            raise ValueError(
                "webhook_auth_token is only for API-key auth; with auth_token set, the auth "
                "token already verifies webhooks, so remove webhook_auth_token"
            )
        if self.from_ is None and self.messaging_service_sid is None:
            raise ValueError("set one of from and messaging_service_sid; neither is set")
        if self.from_ is not None and self.messaging_service_sid is not None:
            raise ValueError("set only one of from and messaging_service_sid; both are set")
        if self.base_url is not None and (self.edge is not None or self.region is not None):
            raise ValueError(
                "base_url and edge/region both choose the API host; set base_url or edge "
                "(with an optional region), not both"
            )
        if self.region is not None and self.edge is None:
            raise ValueError(
                "region needs an edge: Twilio's regional hosts are api.<edge>.<region>.twilio.com "
                "(for example edge: dublin, region: ie1)"
            )
        return self

    @property
    def api_root(self) -> str:
        """Where the REST API lives: ``base_url``, an edge/region host, or Twilio's default."""
        if self.base_url is not None:
            return self.base_url
        if self.edge is not None:
            return f"https://api.{self.edge}.{self.region or DEFAULT_REGION}.twilio.com"
        return DEFAULT_BASE_URL

    @property
    def signing_key(self) -> str | None:
        """The auth token that verifies webhook signatures (an API key secret cannot)."""
        token = self.auth_token or self.webhook_auth_token
        return None if token is None else token.get_secret_value()
