"""``providers.<name>.config`` for Web Push, checked once when the config loads.

The credential is the application server's VAPID key pair: the private key
signs the token every push service checks, and its public key is the
``applicationServerKey`` the page subscribed with. Give the private key as
``web-push generate-vapid-keys`` and ``vapid --gen`` write it (base64url of
the 32-byte key, or PEM), inline from a secret store or in a file. It is read
here, so a broken key fails at load time, not at the first send.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, FilePath, SecretStr, model_validator

import norq

URGENCIES = ("very-low", "low", "normal", "high")
Urgency = Literal["very-low", "low", "normal", "high"]
#: Four weeks, as the push services keep a message at most about that long.
DEFAULT_TTL = 28 * 24 * 3600
_SUBJECT = re.compile(r"(mailto:[^@\s]+@[^@\s]+\.[^@\s]+|https://[^\s/]+\.[^\s]+)")


def _subject(value: str) -> str:
    if not _SUBJECT.fullmatch(value):
        raise ValueError(
            "must be a contact for the push services: mailto:ops@example.com or "
            "https://example.com (Apple's refuses a made-up domain such as localhost)"
        )
    return value


def read_private_key(text: str) -> Any:
    """The VAPID key in ``text`` (PEM, or base64url of the raw or DER key), as py-vapid reads it.

    A ``ValueError`` that never quotes the key says what is wrong.
    """
    from cryptography.hazmat.primitives.asymmetric import ec
    from py_vapid import Vapid

    try:
        if "-----BEGIN" in text:
            vapid = Vapid.from_pem(text.strip().encode())
        else:
            vapid = Vapid.from_string(text.strip())
        key = vapid.private_key
    except Exception:  # py-vapid raises whatever its decoders raise
        raise ValueError(
            "the VAPID private key is not readable: give it as base64url (what "
            "`web-push generate-vapid-keys` prints) or as a PEM file"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the VAPID private key is not a P-256 key")
    return vapid


class WebPushConfig(norq.ProviderConfig):
    """Web Push settings: the VAPID key (inline or a file), who you are, and message defaults."""

    vapid_private_key: SecretStr | None = Field(
        default=None, description="The VAPID private key: base64url or PEM text"
    )
    vapid_private_key_file: FilePath | None = Field(
        default=None, description="Path to the VAPID private key (PEM or base64url)"
    )
    subject: Annotated[str, AfterValidator(_subject)] = Field(
        description="Who runs this server, for the push services: mailto: or https: URL"
    )
    ttl: int = Field(
        default=DEFAULT_TTL,
        ge=0,
        description="Seconds a push service keeps a message for an offline browser",
    )
    urgency: Urgency | None = Field(
        default=None, description="Default Urgency: very-low, low, normal or high"
    )

    @model_validator(mode="after")
    def _one_key(self) -> WebPushConfig:
        if (self.vapid_private_key is None) == (self.vapid_private_key_file is None):
            raise ValueError(
                "give the VAPID private key once: vapid_private_key (its text) or "
                "vapid_private_key_file (a path)"
            )
        read_private_key(self.private_key_text())
        return self

    def private_key_text(self) -> str:
        """The key's text, from the setting or the file."""
        if self.vapid_private_key is not None:
            return self.vapid_private_key.get_secret_value()
        assert self.vapid_private_key_file is not None
        return Path(self.vapid_private_key_file).read_text("utf-8")
