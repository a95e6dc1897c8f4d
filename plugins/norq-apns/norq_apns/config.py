"""``providers.<name>.config`` for APNs, checked once when the config loads.

Token-based authentication: the team's signing key (the ``AuthKey_<KEYID>.p8``
file from the developer account, Certificates, Identifiers & Profiles, Keys),
its key ID and the team ID. The key is read here, so a broken key fails at
load time, not at the first send.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, FilePath, SecretStr, model_validator

import norq

HOSTS = {
    "production": "https://api.push.apple.com",
    "sandbox": "https://api.sandbox.push.apple.com",
}
_TEN = re.compile(r"[A-Z0-9]{10}")
# A bundle ID, with the suffix APNs wants for VoIP, complication or file-provider pushes.
_TOPIC = re.compile(r"[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+")


def _ten(value: str) -> str:
    if not _TEN.fullmatch(value):
        raise ValueError("must be 10 capital letters and digits, as the developer account shows")
    return value


def _topic(value: str) -> str:
    if not _TOPIC.fullmatch(value):
        raise ValueError("is not a bundle ID: write it like com.example.shop")
    return value


def read_key(pem: str) -> str:
    """``pem`` if it is an EC P-256 private key (a .p8 file's text), else a ValueError."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(
            "the signing key is not a readable .p8 key: give the AuthKey_<KEYID>.p8 file "
            "as downloaded"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the signing key is not an APNs key (an EC P-256 key, ES256)")
    return pem


class ApnsConfig(norq.ProviderConfig):
    """APNs settings: the signing key (a file or its text), its key ID, the team and the app."""

    key_file: FilePath | None = Field(default=None, description="Path to the AuthKey_*.p8 file")
    key: SecretStr | None = Field(
        default=None, description="The .p8 key's text (instead of a file)"
    )
    key_id: Annotated[str, AfterValidator(_ten)] = Field(description="The key's 10-character ID")
    team_id: Annotated[str, AfterValidator(_ten)] = Field(description="Your 10-character team ID")
    topic: Annotated[str, AfterValidator(_topic)] = Field(
        description="The app's bundle ID (apns-topic)"
    )
    environment: Literal["production", "sandbox"] = Field(
        default="production",
        description="production (App Store, TestFlight) or sandbox (development builds)",
    )
    base_url: Annotated[str, norq.BASE_URL] | None = Field(
        default=None, description="API root instead of the environment's host (tests, sandbox)"
    )

    @model_validator(mode="after")
    def _one_key(self) -> ApnsConfig:
        if (self.key_file is None) == (self.key is None):
            raise ValueError("give the signing key once: key_file (a path) or key (its text)")
        read_key(self.signing_key())
        return self

    def signing_key(self) -> str:
        """The .p8 key's PEM text, from the file or the setting."""
        if self.key is not None:
            return self.key.get_secret_value()
        assert self.key_file is not None
        return Path(self.key_file).read_text("utf-8")

    @property
    def url(self) -> str:
        return self.base_url or HOSTS[self.environment]
