"""How one sandbox instance behaves: its credentials, its pace, its unlucky recipients."""

from __future__ import annotations

from dataclasses import dataclass, field

from norq_sandbox.guard import DEFAULT_MAX_BODY_BYTES
from norq_sandbox.twilio_resources import DEFAULT_FAILED, DEFAULT_UNDELIVERED

# The same values norq.example.yaml falls back to, so the demo needs no setup.
DEFAULT_ACCOUNT_SID = "AC11111111111111111111111111111111"
DEFAULT_AUTH_TOKEN = "sandbox-auth-token"
DEFAULT_API_KEY_SID = "SK22222222222222222222222222222222"
DEFAULT_API_KEY_SECRET = "sandbox-api-key-secret"
DEFAULT_SENDGRID_API_KEY = "SG.sandbox-api-key"
DEFAULT_VONAGE_API_KEY = "sandboxkey"
DEFAULT_VONAGE_API_SECRET = "sandbox-vonage-secret"
DEFAULT_VONAGE_SIGNATURE_SECRET = "sandbox-vonage-signature-secret"
VONAGE_SIGNATURE_METHODS = ("md5", "sha1", "sha256", "sha512")
DEFAULT_SLACK_TOKEN = "xoxb-sandbox-token"
# A bot token in the shape @BotFather gives: the bot's number, a colon, the secret.
DEFAULT_TELEGRAM_TOKEN = "5550000001:sandbox-telegram-bot-token-0000000000"
# The number a Messaging Service sends from: Twilio's test number that always passes.
DEFAULT_SERVICE_SENDER = "+15005550006"


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    """Credentials the sandbox accepts and how its messages progress.

    Requests authenticate with Basic ``account_sid:auth_token`` or
    ``api_key_sid:api_key_secret``; status callbacks are signed with
    ``auth_token``. Each status step takes ``step_delay`` seconds. A message
    sent through a Messaging Service goes out from ``service_sender``.

    The other APIs accept ``sendgrid_api_key`` (Bearer), ``vonage_api_key`` and
    ``vonage_api_secret`` (in the body or HTTP Basic; or a request signed with
    ``vonage_signature_secret`` by HMAC-``vonage_signature_method``) and
    ``slack_token`` (Bearer) and ``telegram_token`` (in the Bot API's path). The SMTP
    server requires AUTH as ``smtp_username``/``smtp_password`` when they are
    set, and offers STARTTLS when ``smtp_tls_cert`` and ``smtp_tls_key`` name a
    PEM certificate and key. Secrets stay out of ``repr``.

    ``rate_limit`` (requests per second) and ``max_concurrent`` limit the
    account as Twilio does, answering 429 with error 20429 past them.

    It answers only requests whose ``Host`` is localhost, an IP address, the
    host it listens on or one of ``allowed_hosts``, and reads request bodies
    up to ``max_body_bytes`` (:mod:`norq_sandbox.guard`).
    """

    account_sid: str = DEFAULT_ACCOUNT_SID
    auth_token: str = field(default=DEFAULT_AUTH_TOKEN, repr=False)
    api_key_sid: str = DEFAULT_API_KEY_SID
    api_key_secret: str = field(default=DEFAULT_API_KEY_SECRET, repr=False)
    step_delay: float = 0.5
    undelivered: tuple[str, ...] = DEFAULT_UNDELIVERED
    failed: tuple[str, ...] = DEFAULT_FAILED
    service_sender: str = DEFAULT_SERVICE_SENDER
    sendgrid_api_key: str = field(default=DEFAULT_SENDGRID_API_KEY, repr=False)
    vonage_api_key: str = DEFAULT_VONAGE_API_KEY
    vonage_api_secret: str = field(default=DEFAULT_VONAGE_API_SECRET, repr=False)
    vonage_signature_secret: str = field(default=DEFAULT_VONAGE_SIGNATURE_SECRET, repr=False)
    vonage_signature_method: str = "md5"
    slack_token: str = field(default=DEFAULT_SLACK_TOKEN, repr=False)
    telegram_token: str = field(default=DEFAULT_TELEGRAM_TOKEN, repr=False)
    # SMTP: AUTH is required when a username is set; STARTTLS is offered with a certificate.
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_tls_cert: str | None = None
    smtp_tls_key: str | None = None
    rate_limit: float | None = None
    max_concurrent: int | None = None
    # Host names it answers to besides localhost, IP addresses and the one it listens on.
    allowed_hosts: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if self.step_delay < 0:
            raise ValueError("step_delay must be 0 or more")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set smtp_username and smtp_password together, or neither")
        if (self.smtp_tls_cert is None) != (self.smtp_tls_key is None):
            raise ValueError("set smtp_tls_cert and smtp_tls_key together, or neither")
        if self.rate_limit is not None and not self.rate_limit > 0:
            raise ValueError("rate_limit must be more than 0")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        if self.vonage_signature_method not in VONAGE_SIGNATURE_METHODS:
            raise ValueError(
                f"vonage_signature_method must be one of {', '.join(VONAGE_SIGNATURE_METHODS)}"
            )
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1")

    def secret_for(self, username: str) -> str | None:
        """The password that goes with ``username``, if it is one of ours."""
        return {
            self.account_sid: self.auth_token,
            self.api_key_sid: self.api_key_secret,
        }.get(username)
