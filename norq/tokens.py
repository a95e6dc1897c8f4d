"""Credentials that expire: how a provider obtains an access token, described, never performed.

Some APIs take no fixed key: FCM wants an OAuth2 access token that a signed
JWT buys from Google and that lasts an hour; APNs wants a JWT signed with the
team's key, renewed every 20 to 60 minutes. A provider describes how to get
one in a :class:`TokenSource` and names it on its requests
(``PreparedRequest(token=source)``); ``prepare_send`` stays pure. The
executor, the one place with I/O, obtains the token, caches it per source
(so per provider instance) for every thread and event loop, renews it before
it expires or once when the API refuses it, and never shows it: as httpx's
``auth_flow`` describes an auth handshake that its client performs.
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from norq.error_codes import ErrorCode

if TYPE_CHECKING:
    from norq.request import PreparedRequest
    from norq.send_result import SendResult
    from norq.transports.base import Response

#: What a dry run shows where the token goes: it is obtained only when sending.
UNSEEN = "***"


@dataclass(frozen=True, slots=True, repr=False)
class Token:
    """An access token and when it stops working (Unix time). The value never shows in a repr."""

    value: str = field(compare=False)
    expires_at: float

    def __repr__(self) -> str:
        return f"<Token expiring at {self.expires_at:.0f}>"

    __str__ = __repr__


class TokenSource(abc.ABC):
    """How a provider obtains a token that expires. Pure: the executor does the I/O.

    ``prepare_token(now)`` returns either the request that buys a token (an
    OAuth2 exchange), which the executor sends with its retries and reads
    with ``read_token``, or the :class:`Token` itself when it is minted
    locally (a signed JWT). ``now`` is the executor's clock, so a source
    needs none. The executor renews a token ``refresh_margin`` seconds before
    it expires, and once, at once, when ``refused(response)`` says the API
    refused it (HTTP 401 by default).

    A source is built once per provider instance and holds its credentials:
    keep them out of its ``repr``.
    """

    #: Seconds before expiry at which the token is renewed.
    refresh_margin: float = 60.0

    @abc.abstractmethod
    def prepare_token(self, now: float) -> PreparedRequest | Token:
        """The request that obtains a token, or the token itself if no request is needed."""

    def read_token(
        self, request: PreparedRequest, response: Response, now: float
    ) -> Token | SendResult:
        """The token in the answer to ``prepare_token``'s request, or why there is none.

        The default reads an OAuth2 token answer (RFC 6749, section 5.1):
        ``{"access_token": ..., "expires_in": seconds}``; an error answer is
        read as the request declares (:func:`norq.response.read_declared`).
        """
        from norq.send_result import SendResult, read_declared

        if response.status not in request.success_statuses:
            return read_declared(request, response)
        try:
            answer: Any = json.loads(response.body)
            value = answer["access_token"]
            lifetime = float(answer.get("expires_in", 3600))
        except (ValueError, TypeError, KeyError):
            return SendResult.failed(
                ErrorCode.BAD_RESPONSE,
                f"HTTP {response.status} without an access_token and expires_in",
            )
        if not isinstance(value, str) or not value:
            return SendResult.failed(ErrorCode.BAD_RESPONSE, "the access_token is empty")
        return Token(value, now + lifetime)

    def authorize(self, request: PreparedRequest, token: Token) -> PreparedRequest:
        """``request`` carrying ``token``; by default ``Authorization: Bearer <token>``."""
        return replace(
            request,
            headers=(*request.headers, ("Authorization", f"Bearer {token.value}")),
            token=None,
        )

    def refused(self, response: Response) -> bool:
        """Whether ``response`` says the token was refused (expired, revoked): HTTP 401."""
        return response.status == 401

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
