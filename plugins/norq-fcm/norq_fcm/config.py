"""``providers.<name>.config`` for FCM, checked once when the config loads.

The credential is a Google service account key, the JSON file the Firebase
console downloads (Project settings, Service accounts, Generate new private
key): a path in ``service_account_file``, or its text in ``service_account``
(from a secret store, ``${FCM_SERVICE_ACCOUNT}``). Its private key is read
here, so a broken key fails at load time, not at the first send.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, FilePath, SecretStr, model_validator

import norq

DEFAULT_BASE_URL = "https://fcm.googleapis.com"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


@dataclass(frozen=True, slots=True, repr=False)
class ServiceAccount:
    """What Norq uses of a service account key. The private key never shows in a repr."""

    project_id: str
    client_email: str
    private_key_id: str
    private_key: str = field(compare=False)
    token_uri: str = GOOGLE_TOKEN_URI

    def __repr__(self) -> str:
        return f"<ServiceAccount {self.client_email}>"

    @classmethod
    def from_json(cls, text: str) -> ServiceAccount:
        """Read a key file's JSON; a ``ValueError`` that never quotes the key says what is wrong."""
        try:
            data: Any = json.loads(text)
        except ValueError:
            raise ValueError(
                "is not JSON: give the service account key file exactly as downloaded"
            ) from None
        if not isinstance(data, dict) or data.get("type") != "service_account":
            raise ValueError(
                'is not a service account key: its "type" must be "service_account" (Firebase '
                "console, Project settings, Service accounts, Generate new private key)"
            )
        missing = [
            key
            for key in ("project_id", "client_email", "private_key_id", "private_key")
            if not isinstance(data.get(key), str) or not data[key]
        ]
        if missing:
            raise ValueError(f"the service account key lacks {', '.join(missing)}")
        token_uri = data.get("token_uri") or GOOGLE_TOKEN_URI
        try:
            norq.HTTP_URL.validate(token_uri)
        except ValueError as exc:
            raise ValueError(f"the service account's token_uri {exc}") from None
        _check_private_key(data["private_key"])
        return cls(
            project_id=data["project_id"],
            client_email=data["client_email"],
            private_key_id=data["private_key_id"],
            private_key=data["private_key"],
            token_uri=token_uri,
        )


def _check_private_key(pem: str) -> None:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(
            "the service account's private_key is not a readable PEM key: download a new key"
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("the service account's private_key is not an RSA key")


class FcmConfig(norq.ProviderConfig):
    """FCM settings: one service account, given as a file or as its JSON text."""

    service_account_file: FilePath | None = Field(
        default=None, description="Path to the service account key JSON"
    )
    service_account: SecretStr | None = Field(
        default=None, description="The service account key's JSON text (instead of a file)"
    )
    project_id: str | None = Field(
        default=None, min_length=1, description="Firebase project (default: the key's project_id)"
    )
    base_url: Annotated[str, norq.BASE_URL] = Field(
        default=DEFAULT_BASE_URL, description="API root (tests, sandbox)"
    )
    validate_only: bool = Field(
        default=False, description="Ask FCM to check each message without delivering it"
    )

    @model_validator(mode="after")
    def _one_key(self) -> FcmConfig:
        if (self.service_account_file is None) == (self.service_account is None):
            raise ValueError(
                "give the service account key once: service_account_file (a path) or "
                "service_account (its JSON text)"
            )
        self.account()  # a broken key is a config error now, not at the first send
        return self

    def account(self) -> ServiceAccount:
        """The service account, read from the file or the text."""
        if self.service_account is not None:
            return ServiceAccount.from_json(self.service_account.get_secret_value())
        assert self.service_account_file is not None
        return ServiceAccount.from_json(Path(self.service_account_file).read_text("utf-8"))
