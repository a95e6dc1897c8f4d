"""How one sandbox instance behaves: its credentials, its pace, its unlucky recipients."""

from __future__ import annotations

from dataclasses import dataclass

from norq.sandbox.resources import DEFAULT_FAILED, DEFAULT_UNDELIVERED

# The same values norq.example.yaml falls back to, so the demo needs no setup.
DEFAULT_ACCOUNT_SID = "AC11111111111111111111111111111111"
DEFAULT_AUTH_TOKEN = "sandbox-auth-token"
DEFAULT_API_KEY_SID = "SK22222222222222222222222222222222"
DEFAULT_API_KEY_SECRET = "sandbox-api-key-secret"
# The number a Messaging Service sends from: Twilio's test number that always passes.
DEFAULT_SERVICE_SENDER = "+15005550006"


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    """Credentials the sandbox accepts and how its messages progress.

    Requests authenticate with Basic ``account_sid:auth_token`` or
    ``api_key_sid:api_key_secret``; status callbacks are signed with
    ``auth_token``. Each status step takes ``step_delay`` seconds. A message
    sent through a Messaging Service goes out from ``service_sender``.
    """

    account_sid: str = DEFAULT_ACCOUNT_SID
    auth_token: str = DEFAULT_AUTH_TOKEN
    api_key_sid: str = DEFAULT_API_KEY_SID
    api_key_secret: str = DEFAULT_API_KEY_SECRET
    step_delay: float = 0.5
    undelivered: tuple[str, ...] = DEFAULT_UNDELIVERED
    failed: tuple[str, ...] = DEFAULT_FAILED
    service_sender: str = DEFAULT_SERVICE_SENDER

    def __post_init__(self) -> None:
        if self.step_delay < 0:
            raise ValueError("step_delay must be 0 or more")

    def secret_for(self, username: str) -> str | None:
        """The password that goes with ``username``, if it is one of ours."""
        return {
            self.account_sid: self.auth_token,
            self.api_key_sid: self.api_key_secret,
        }.get(username)
