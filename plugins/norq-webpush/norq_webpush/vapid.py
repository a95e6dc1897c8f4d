"""The VAPID token (RFC 8292): a JWT the application server's key signs, one per push service.

Each push service (FCM's, Mozilla's, Apple's...) is an audience of its own:
the token names its origin in ``aud``, when it expires in ``exp`` (at most 24
hours ahead) and who to contact in ``sub``, and goes out as ``Authorization:
vapid t=<JWT>, k=<public key>``. Signing needs no request, but it is still
the executor's to do: :class:`VapidToken` only describes it, the executor
signs once per audience for every send from any thread or event loop, renews
before expiry and once when a push service refuses the token (401 or 403),
and never shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import norq

#: Hours a token is used; push services refuse an ``exp`` more than 24 hours ahead.
LIFETIME = 12 * 3600


@dataclass(frozen=True, eq=True, repr=False)
class VapidToken(norq.TokenSource):
    """Tokens for one push service (``audience``) from one VAPID key.

    Equal sources share one token in the executor's cache, so a provider may
    describe a new one for every message: a push service's messages all use
    the token signed for its origin.
    """

    audience: str
    subject: str
    public_key: str
    # The signer (py-vapid's); the public key above already tells one key from another.
    vapid: Any = field(compare=False)

    def prepare_token(self, now: float) -> norq.Token:
        claims = {"aud": self.audience, "exp": int(now) + LIFETIME, "sub": self.subject}
        header: str = self.vapid.sign(claims)["Authorization"]
        # py-vapid writes "vapid t=<JWT>,k=<key>"; the JWT is the secret part.
        jwt = header.split("t=", 1)[1].split(",", 1)[0]
        return norq.Token(jwt, now + LIFETIME)

    def authorize(self, request: norq.PreparedRequest, token: norq.Token) -> norq.PreparedRequest:
        vapid = f"vapid t={token.value}, k={self.public_key}"
        return replace(request, headers=(*request.headers, ("Authorization", vapid)), token=None)

    def refused(self, response: norq.Response) -> bool:
        # RFC 8292: 401 for a missing or expired token, 403 for one the service will not take.
        return response.status in (401, 403)

    def __repr__(self) -> str:
        return f"<VapidToken for {self.audience}>"
