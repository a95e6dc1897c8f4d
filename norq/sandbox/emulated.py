"""What every emulated API gives the sandbox: its paths, routes, faults and request log entry.

The middleware in :mod:`norq.sandbox.app` finds the API a request is for by
its path, records it (secrets masked), and lets the API render an injected
fault in its own words; the API's routes handle everything else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from norq.sandbox.faults import COMMON_KINDS, Fault

MASK = "********"
# Form or JSON fields that carry a credential: recorded as MASK, never as sent.
SECRET_FIELDS = frozenset({"api_secret", "token", "password", "sig"})


@dataclass(frozen=True, slots=True)
class EmulatedApi:
    """One provider API the sandbox speaks.

    ``fault_response(fault, path)`` answers an injected ``429``, ``5xx`` or
    ``body-error`` as that provider would; ``user(headers, fields)`` names who
    sent a request, for the log, without its secret.
    """

    name: str
    prefixes: tuple[str, ...]
    routes: Sequence[BaseRoute]
    fault_response: Callable[[Fault, str], Response]
    user: Callable[[Mapping[str, str], Mapping[str, Any]], str | None]
    faults: frozenset[str] = COMMON_KINDS

    def serves(self, path: str) -> bool:
        return path.startswith(self.prefixes)


def parse_fields(body: bytes, content_type: str) -> tuple[dict[str, list[str]], Any]:
    """A request body as form fields and, for JSON, the parsed document (None otherwise)."""
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
