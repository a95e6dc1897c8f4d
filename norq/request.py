"""The pure description of one HTTP request, as a provider's ``prepare_send`` returns it.

Nothing here performs I/O: the executor turns a :class:`PreparedRequest` into
traffic, and the dry run prints it. Keeping this module free of httpx means a
dry run never imports an HTTP client.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlencode

from norq.retry import DEFAULT_RETRY, Disposition, RetryPolicy
from norq.tokens import UNSEEN, Token, TokenSource

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


@dataclass(frozen=True, slots=True)
class ErrorFormat:
    """How to read a provider's failed answers: where the code and message are, what they mean.

    Paths use the ``$.field`` syntax of :mod:`norq.extract`. ``code_map`` maps a
    provider code (as a string) to one of Norq's normalised codes in
    :class:`norq.ErrorCode`; unmapped codes fall back to a code derived from the
    HTTP status. ``dispositions`` overrides, per provider code, what happens
    next (``"retry"``, ``"failover"`` or ``"final"``, see :class:`norq.Disposition`).
    ``reset_header`` names a rate-limit reset header (``X-RateLimit-Reset``)
    read as a wait hint when there is no ``Retry-After``: Unix time, or
    seconds to wait with ``reset_is_delta=True``.
    """

    code_path: str | None = "$.code"
    message_path: str | None = "$.message"
    more_info_path: str | None = None
    code_map: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    dispositions: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    reset_header: str | None = None
    reset_is_delta: bool = False

    def __post_init__(self) -> None:
        # Checked here, when the provider builds its format, not at the first failure.
        try:
            checked = {str(code): Disposition(value) for code, value in self.dispositions.items()}
        except ValueError as exc:
            choices = ", ".join(repr(str(d)) for d in Disposition)
            raise ValueError(f"ErrorFormat.dispositions: {exc}; use one of {choices}") from None
        object.__setattr__(self, "dispositions", MappingProxyType(checked))


DEFAULT_ERROR_FORMAT = ErrorFormat()
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
    ``json`` is the alternative body. The message id is read from the JSON body
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
        if self.form is not None and self.json is not None:
            raise ValueError("a request has either a form body or a JSON body, not both")

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
            import json

            return json.dumps(self.json, separators=(",", ":")).encode("utf-8")
        return None

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
