"""Raw requests: any call to a provider's API, with the instance's base URL and credentials.

The escape hatch for what Norq has no method for (cancel a scheduled Twilio
message, read an account's usage). The provider declares where its API lives
and how it authenticates (:meth:`norq.Provider.api_base`); the request is
checked here, before anything is sent, and goes out through the shared
executor, with the instance's retry policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from norq.errors import MessageError, UnsupportedOperation
from norq.request import DEFAULT_SUCCESS, PreparedRequest

if TYPE_CHECKING:
    from norq.executor import Executor
    from norq.provider import Provider
    from norq.receipt import DeliveryFailure
    from norq.throttle import Throttle

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# Methods whose parameters travel in the query string; the others send a form.
QUERY_METHODS = frozenset({"GET", "DELETE"})
_PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)\}")
_PATH = re.compile(r"^/[A-Za-z0-9\-._~%!$&'()*+,;=:@/{}]*$")

# A path decoded this many times is as far as any chain of proxies takes it.
_DECODINGS = 3

Params = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What a raw request got back: ``data`` is the decoded JSON answer, if it was JSON."""

    provider: str
    method: str
    url: str
    ok: bool
    status_code: int | None
    attempts: int
    data: Any = None
    error: DeliveryFailure | None = None


def prepare_raw(provider: Provider, method: str, path: str, params: Params = ()) -> PreparedRequest:
    """The request for ``method path`` on ``provider``'s API; MessageError if it is malformed."""
    base = provider.api_base()
    if base is None:
        raise UnsupportedOperation(
            f"provider {provider.instance!r} ({provider.name}) declares no API base URL and "
            "credentials, so it takes no raw requests"
        )
    verb = method.upper()
    if verb not in METHODS:
        raise MessageError(f"method {method!r} is not one of {', '.join(sorted(METHODS))}")
    if not _PATH.match(path) or _leaves_base(path):
        raise MessageError(
            f"path {path!r} must start with '/' and hold only a URL path (no query, fragment, "
            "'..' or '//', in any encoding): pass parameters with -d KEY=VALUE / params="
        )
    unknown = sorted(set(_PLACEHOLDER.findall(path)) - set(base.path_values))
    if unknown:
        known = ", ".join("{" + name + "}" for name in sorted(base.path_values)) or "none"
        raise MessageError(
            f"path {path!r} uses {', '.join('{' + n + '}' for n in unknown)}; "
            f"{provider.instance!r} fills in: {known}"
        )
    filled = _PLACEHOLDER.sub(lambda match: base.path_values[match[1]], path)
    pairs = tuple(params.items()) if isinstance(params, Mapping) else tuple(params)
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(part, str) for part in pair):
            raise MessageError(f"parameters must be (name, value) strings, got {pair!r}")
    in_query = verb in QUERY_METHODS
    return PreparedRequest(
        method=verb,
        url=base.url + filled,
        query=pairs if in_query else (),
        form=None if in_query else pairs,
        headers=base.headers,
        auth=base.auth,
        success_statuses=DEFAULT_SUCCESS,
        retry=provider.retry,
        errors=base.errors,
    )


def _leaves_base(path: str) -> bool:
    """Whether ``path``, as any server along the way may decode it, climbs out of the base URL.

    A server or proxy may percent-decode a path once or more before
    resolving it, and some read ``\\`` as ``/`` or ignore ``;`` parameters, so
    ``%2e%2e``, ``%252e%252e``, ``..%2f`` and ``..;`` count as ``..``.
    """
    decoded = path
    for _ in range(_DECODINGS):
        try:
            decoded = unquote(decoded, errors="strict")
        except UnicodeDecodeError:
            raise MessageError(
                f"path {path!r} has percent-escapes that are not UTF-8 (such as the overlong "
                "%c0%ae for '.'); escape each character's UTF-8 bytes"
            ) from None
    segments = [segment.split(";", 1)[0] for segment in re.split(r"[/\\]", decoded)]
    return ".." in segments or "" in segments[1:-1]


def raw_request(
    executor: Executor,
    provider: Provider,
    method: str,
    path: str,
    params: Params = (),
    throttle: Throttle | None = None,
) -> RawResponse:
    """Send ``method path`` to ``provider``'s API and return what came back, failed or not."""
    request = prepare_raw(provider, method, path, params)
    outcome = executor.send(request, throttle=throttle)
    return RawResponse(
        provider=provider.instance,
        method=request.method,
        url=request.full_url,
        ok=outcome.ok,
        status_code=outcome.status_code,
        attempts=outcome.attempts,
        data=outcome.data,
        error=outcome.error,
    )
