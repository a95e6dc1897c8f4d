"""``providers.<name>.config`` for ``type: smtp``, checked once when the config loads."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, FilePath, SecretStr, model_validator

import norq

Security = Literal["starttls", "tls", "none"]

#: The submission port each security mode is usually served on.
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}


def _address(value: str) -> str:
    return norq.EMAIL.validate(value)


def _no_line_breaks(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("must be one line: a line break would start a new mail header")
    return value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpConfig(norq.ProviderConfig):
    """Where the SMTP server is, how to reach it safely, and who the mail is from."""

    host: Annotated[str, AfterValidator(_no_line_breaks)] = Field(
        min_length=1, description="The SMTP server's host name or IP address"
    )
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Default: 587 for starttls, 465 for tls, 25"
    )
    security: Security = Field(
        default="starttls",
        description="starttls (upgrade a plain connection), tls (TLS from the start) or none",
    )
    username: str | None = Field(default=None, min_length=1, description="AUTH user name")
    password: SecretStr | None = Field(default=None, description="AUTH password")
    sender: Annotated[str, AfterValidator(_address)] = Field(
        description="The From address, also the envelope sender (MAIL FROM)"
    )
    sender_name: Annotated[str, AfterValidator(_no_line_breaks)] | None = Field(
        default=None, description="Display name shown next to the From address"
    )
    reply_to: Annotated[str, AfterValidator(_address)] | None = Field(
        default=None, description="Default Reply-To address"
    )
    helo_name: Annotated[str, AfterValidator(_no_line_breaks)] | None = Field(
        default=None, description="Name sent in EHLO (default: this machine's FQDN)"
    )
    ca_file: FilePath | None = Field(
        default=None,
        description="PEM bundle of the certificate authorities to trust (default: the system's)",
    )
    max_connections: int = Field(
        default=4, ge=1, le=100, description="Connections kept open to the server for async sends"
    )

    @model_validator(mode="after")
    def _credentials_need_each_other_and_encryption(self) -> SmtpConfig:
        if (self.username is None) != (self.password is None):
            given, missing = ("username", "password") if self.username else ("password", "username")
            raise ValueError(f"{given} is set but {missing} is not: AUTH needs both")
        if self.password is not None and self.security == "none" and not is_loopback(self.host):
            raise ValueError(
                "AUTH over an unencrypted connection would send the password in clear: "
                "use security: starttls (port 587) or tls (port 465)"
            )
        return self

    @property
    def server_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]
