"""The pure description of one HTTP request, as a provider's ``prepare_send`` returns it.

Nothing here performs I/O: the executor turns a :class:`PreparedRequest` into
traffic, and the dry run prints it. Keeping this module free of httpx means a
dry run never imports an HTTP client.

A request may name a :class:`TokenSource`, a credential that expires, and a
source describes the requests that obtain its token: the two refer to each
other, so they live together here. How an answer is read (``ErrorFormat``,
:func:`~norq.send_result.read_declared`) is :mod:`norq.send_result`, below.
"""

from __future__ import annotations

import abc
import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from norq.error_codes import ErrorCode
from norq.retry import DEFAULT_RETRY, RetryPolicy
from norq.send_result import DEFAULT_ERROR_FORMAT, ErrorFormat, SendResult, read_declared
from norq.transports.base import Response

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, repr=False)
class BasicAuth:
    """HTTP Basic credentials. The password never appears in ``repr`` or ``str``."""

    username: str
    password: str = field(compare=False)
    # Providers build one BasicAuth per configured instance and reuse it, so the
    # header is encoded once, not per send.
    header_value: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        object.__setattr__(self, "header_value", f"Basic {token}")

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password='***')"

    __str__ = __repr__


DEFAULT_SUCCESS = frozenset(range(200, 300))


@dataclass(frozen=True, slots=True, repr=False)
class ApiBase:
    """Where a provider's HTTP API lives and how a request to it authenticates.

    A provider that returns one from :meth:`norq.Provider.api_base` takes raw
    requests (``Norq.raw_request``, ``norq request``): any path below ``url``,
    sent through the executor with ``auth`` and ``headers``, failures read
    with ``errors``. ``path_values`` fill ``{Name}`` placeholders in a path
    (Twilio: ``{AccountSid}``). Put credentials only in ``auth`` or
    ``headers``, which output redacts.
    """

    url: str
    auth: BasicAuth | None = None
    headers: Pairs = ()
    errors: ErrorFormat = DEFAULT_ERROR_FORMAT
    path_values: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<ApiBase {self.url}>"


@dataclass(frozen=True, slots=True, repr=False)
class PreparedRequest:
    """Everything the executor needs to send one request and read its answer.

    ``form`` is a sequence of pairs so a key may repeat (Twilio's ``MediaUrl``);
    ``json`` and ``content`` (bytes as they are, with the ``Content-Type`` in
    ``headers``) are the alternatives. The message id is read from the JSON body
    at ``message_id_path`` (``$.sid``) or from the ``message_id_header``.
    ``transport`` names the registered transport that sends it (``"http"``).
    ``secret_url`` marks a URL that is itself a credential (an incoming-webhook
    URL): reprs and log lines then show only its scheme and host. ``token``
    names the :class:`norq.TokenSource` whose token the executor adds when it
    sends (a dry run shows it as ``***``).
    """

    method: str
    url: str
    query: Pairs = ()
    headers: Pairs = ()
    form: Pairs | None = None
    json: Any = None
    content: bytes | None = None
    auth: BasicAuth | None = None
    success_statuses: frozenset[int] = DEFAULT_SUCCESS
    message_id_path: str | None = None
    message_id_header: str | None = None
    retry: RetryPolicy = DEFAULT_RETRY
    errors: ErrorFormat = DEFAULT_ERROR_FORMAT
    transport: str = "http"
    secret_url: bool = False
    token: TokenSource | None = None

    def __post_init__(self) -> None:
        if sum(body is not None for body in (self.form, self.json, self.content)) > 1:
            raise ValueError("a request has one body: form, json or content")

    @property
    def shown_url(self) -> str:
        """The URL as logs and reprs show it: without its path when the URL is a secret."""
        if not self.secret_url:
            return self.url
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0].rpartition('@')[2]}/***"

    @property
    def full_url(self) -> str:
        if not self.query:
            return self.url
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}{urlencode(self.query)}"

    def body_bytes(self) -> bytes | None:
        """The encoded body, as it goes on the wire."""
        if self.form is not None:
            return urlencode(self.form).encode("ascii")
        if self.json is not None:
            return json.dumps(self.json, separators=(",", ":")).encode("utf-8")
        return self.content

    def wire_headers(self) -> dict[str, str]:
        """Headers as sent, including Content-Type and Authorization (secret!)."""
        headers = dict(self.headers)
        if self.form is not None:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif self.json is not None:
            headers.setdefault("Content-Type", "application/json")
        if self.auth is not None:
            headers["Authorization"] = self.auth.header_value
        if self.token is not None:
            # Not obtained yet (a dry run): show where it goes, never what it is.
            headers.update(self.token.authorize(self, Token(UNSEEN, 0.0)).headers)
        return headers

    def __repr__(self) -> str:
        # Deliberately short: form values may hold personal data and headers may
        # hold credentials; use norq.redaction to show a request to a person.
        return f"<PreparedRequest {self.method} {self.shown_url}>"


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
        read as the request declares (:func:`norq.send_result.read_declared`).
        """
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
