"""What keeps the sandbox to the machine it runs on: Host and Origin checks, a body cap.

The sandbox has no authentication of its own: whoever reaches it can read every
message and reset it. It listens on loopback unless told otherwise, and this
middleware closes the ways a web page open in the developer's own browser
could still reach it:

- **DNS rebinding.** A page on ``evil.example`` makes its name resolve to
  127.0.0.1 and then reads the sandbox as if it were its own origin. The
  browser still sends ``Host: evil.example``, so the sandbox answers only a
  Host it knows: an IP address, ``localhost`` (and ``*.localhost``), the host
  it listens on, and any name given with ``--allowed-host``. The port is not
  checked, so a forwarded port (a container's ``-p 9000:8765``) still works.
- **Cross-site requests.** A page elsewhere can POST a form to the sandbox
  without reading the answer: a reset, a fault, a message. Browsers say where
  such a request comes from (``Origin``, ``Sec-Fetch-Site``), so a request
  that changes something (any method but GET, HEAD and OPTIONS) from another
  origin is refused with 403. SDKs, curl and Norq send neither header.
- **Size.** A request body is counted as it streams in and refused with 413
  once it passes ``max_body_bytes``, so nothing larger is ever held whole.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# SendGrid takes up to 30 MB per message, attachments included; room for the JSON around it.
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


class BodyTooLarge(Exception):
    """A request body grew past the cap while it was being read."""


def host_name(host_header: str) -> str:
    """The name or address in a ``Host`` header, lower-case, without port or brackets."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    name, separator, port = value.rpartition(":")
    return name if separator and port.isdigit() else value


def is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the sandbox to this machine."""
    name = host_name(host) if host.startswith("[") else host.lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Guard:
    """ASGI middleware: refuse unknown Hosts, cross-site changes and oversized bodies."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        listen_host: str,
        allowed_hosts: Collection[str] = (),
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        names = {name.lower() for name in allowed_hosts}
        if listen_host not in _WILDCARDS:
            names.add(host_name(listen_host) if listen_host.startswith("[") else listen_host)
        self.allowed_hosts = frozenset(names)
        self.max_body_bytes = max_body_bytes

    def allows_host(self, host_header: str | None) -> bool:
        # An HTTP/1.0 client may send no Host at all; a browser always sends one.
        if not host_header:
            return True
        name = host_name(host_header)
        return (
            is_ip_address(name)
            or name == "localhost"
            or name.endswith(".localhost")
            or name in self.allowed_hosts
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")
        if not self.allows_host(host):
            refusal = PlainTextResponse(
                f"Invalid Host header {host_name(host or '')!r}: the sandbox answers only to "
                "localhost, IP addresses and the host it listens on (add others with "
                "--allowed-host); this protects it from DNS rebinding",
                status_code=400,
            )
            await refusal(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS and _cross_site(headers):
            forbidden = JSONResponse(
                {
                    "error": "cross-origin request refused: the sandbox takes changes only "
                    "from its own pages and from clients that are not browsers"
                },
                status_code=403,
            )
            await forbidden(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await self._too_large(scope, receive, send)
            return
        try:
            await self.app(scope, _capped(receive, self.max_body_bytes), send)
        except BodyTooLarge:
            # Bodies are read whole before any answer starts (the request log reads
            # them first, routes before they answer), so nothing has been sent yet.
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = PlainTextResponse(
            f"Request body too large: the sandbox reads at most {self.max_body_bytes} bytes",
            status_code=413,
        )
        await refusal(scope, receive, send)


def _cross_site(headers: Headers) -> bool:
    """Whether a browser says this request comes from a page of another origin."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return False
    parts = urlsplit(origin)
    return parts.netloc.lower() != (headers.get("host") or "").lower()


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive``, raising BodyTooLarge once the body passes ``limit`` bytes."""
    seen = 0

    async def capped_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
        return message

    return capped_receive
