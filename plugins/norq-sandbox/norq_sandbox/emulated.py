"""What every emulated API gives the sandbox: its paths, routes, faults and request log entry.

The middleware in :mod:`norq_sandbox.asgi` finds the API a request is for by
its path, records it (secrets masked), and lets the API render an injected
fault in its own words; the API's routes handle everything else. Adding an
API is a module that builds one :class:`EmulatedApi` and a line in
:mod:`norq_sandbox.apis` (docs/sandbox.md walks through it).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Scope

from norq_sandbox.faults import COMMON_KINDS, Fault
from norq_sandbox.records import LoggedRequest
from norq_sandbox.state import state_of

MASK = "********"
# Form or JSON fields that carry a credential: recorded as MASK, never as sent.
SECRET_FIELDS = frozenset({"api_secret", "token", "password", "sig", "assertion"})
# Where the middleware leaves a request's log entry for the route, in the ASGI scope.
_LOG_ENTRY = "norq_sandbox.log_entry"

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class EmulatedApi:
    """One provider API the sandbox speaks.

    ``name`` names its fault plan and its entries in the request log;
    ``prefixes`` are the paths it owns, ``routes`` its Starlette routes.
    ``fault_response(fault, path)`` answers an injected ``429``, ``5xx`` or
    ``body-error`` as that provider would; ``user(headers, fields)`` names who
    sent a request, for the log, without its secret. ``faults`` are the fault
    kinds it can suffer. ``exception_handlers`` and ``http_error`` (a 404 or
    405 under its prefixes) let it answer errors in its own shape;
    ``account_limits`` puts it under ``--rate-limit`` and ``--max-concurrent``.
    ``public_path`` is a path as the request log and the console may show it: an
    API whose URLs hold a secret (an incoming webhook) masks it there.
    ``body_error_accepts(path)`` says whether the provider's failure inside a
    200 may come after the request was carried out (Slack's ``internal_error``):
    then the route runs first, and its answer is replaced by the failure.
    """

    name: str
    prefixes: tuple[str, ...]
    routes: Sequence[BaseRoute]
    fault_response: Callable[[Fault, str], Response]
    user: Callable[[Mapping[str, str], Mapping[str, Any]], str | None]
    faults: frozenset[str] = COMMON_KINDS
    exception_handlers: Mapping[type[Exception], ExceptionHandler] = field(default_factory=dict)
    http_error: Callable[[Request, HTTPException], Response] | None = None
    account_limits: bool = False
    public_path: Callable[[str], str] = lambda path: path
    body_error_accepts: Callable[[str], bool] = lambda path: False

    def serves(self, path: str) -> bool:
        return path.startswith(self.prefixes)


def parse_fields(body: bytes, content_type: str) -> tuple[dict[str, list[str]], Any]:
    """A request body as form fields and, for JSON, the parsed document (None otherwise)."""
    if "octet-stream" in content_type.lower():
        return {}, None  # an encrypted push payload: nothing a log can read
    if "json" in content_type.lower():
        try:
            document = json.loads(body or b"null")
        except ValueError:
            return {}, None
        return {}, document
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True), None


def masked(value: Any) -> Any:
    """``value`` with every field named in SECRET_FIELDS replaced by MASK, at any depth."""
    if isinstance(value, Mapping):
        return {k: _hidden(v) if k in SECRET_FIELDS else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def _hidden(value: Any) -> Any:
    # A form field keeps its shape (a list of values), each value masked.
    return [MASK for _ in value] if isinstance(value, list) else MASK


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The user name and password of an ``Authorization: Basic`` header, if well formed."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else None


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def read_fields(request: Request) -> dict[str, Any] | None:
    """The body as one flat mapping: a JSON object as is, a form with the last value of each
    field (as the providers' servers read repeated fields); None if it is neither."""
    fields, document = parse_fields(await request.body(), request.headers.get("content-type", ""))
    if "json" in request.headers.get("content-type", "").lower():
        return document if isinstance(document, dict) else None
    return {name: values[-1] for name, values in fields.items()}


def attach_log_entry(scope: Scope, entry: LoggedRequest) -> None:
    """Leave ``entry`` in the ASGI scope for :func:`note_created` (the middleware's half)."""
    scope[_LOG_ENTRY] = entry


def note_created(request: Request, message_id: str) -> None:
    """Note in the request log (and its console line) the id of what ``request`` created."""
    entry: LoggedRequest | None = request.scope.get(_LOG_ENTRY)
    if entry is not None:
        state_of(request).records.update_request(entry, message_sid=message_id)
