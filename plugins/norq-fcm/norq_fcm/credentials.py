"""The OAuth2 access token FCM requires, bought with a service account's signed assertion.

Google's two-legged OAuth2 flow for service accounts (RFC 7523, the JWT
bearer grant): a JWT naming the account, the scope and the token endpoint,
signed RS256 with the account's key, is posted to ``token_uri``; the answer
is an access token that lasts an hour. This module only describes that
exchange; Norq's executor performs it, caches the token for every send of
the provider instance, and renews it before it expires or when FCM refuses
it.
"""

from __future__ import annotations

import jwt

import norq
from norq_fcm.config import ServiceAccount

#: The scope FCM's send endpoint requires.
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Google accepts assertions valid for at most an hour.
ASSERTION_LIFETIME = 3600

#: Google's token endpoint answers ``{"error": "invalid_grant", "error_description": ...}``.
TOKEN_ERRORS = norq.ErrorTable(
    {
        # A deleted or disabled key, a wrong account, a clock far off.
        "invalid_grant": ("invalid_credentials", "failover"),
        "invalid_client": ("invalid_credentials", "failover"),
        "unauthorized_client": ("permission_denied", "failover"),
        "invalid_scope": ("permission_denied", "failover"),
    }
).error_format(code_path="$.error", message_path="$.error_description")


class GoogleOAuth2(norq.TokenSource):
    """Access tokens for one service account, by the JWT bearer grant."""

    def __init__(self, account: ServiceAccount, retry: norq.RetryPolicy) -> None:
        self._account = account
        self._retry = retry

    def assertion(self, now: float) -> str:
        """The signed JWT that asks for a token, issued at ``now``."""
        issued = int(now)
        claims = {
            "iss": self._account.client_email,
            "scope": SCOPE,
            "aud": self._account.token_uri,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME,
        }
        headers = {"kid": self._account.private_key_id}
        return jwt.encode(claims, self._account.private_key, algorithm="RS256", headers=headers)

    def prepare_token(self, now: float) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=self._account.token_uri,
            form=(("grant_type", JWT_BEARER), ("assertion", self.assertion(now))),
            retry=self._retry,
            errors=TOKEN_ERRORS,
        )

    def __repr__(self) -> str:
        return f"<GoogleOAuth2 {self._account.client_email}>"
