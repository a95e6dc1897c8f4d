"""Dry runs: a notification built but not sent, and its request shown to a person.

:func:`prepare` builds what the first provider would send
(:class:`PreparedNotification`). The rest are pure functions: a
:class:`~norq.request.PreparedRequest` and a
:class:`~norq.redaction.Redactor` in, text out, as HTTP or as a runnable
curl command. With a redactor the
``Authorization`` header and every secret config value read ``***``, also
where they appear percent-encoded; pass ``None`` to show the request verbatim.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote_plus

from norq.redaction import MASK, Redactor
from norq.request import PreparedRequest
from norq.transports.base import Prepared

if TYPE_CHECKING:
    from norq.message import Message
    from norq.router import Composed

Format = Literal["http", "curl"]
FORMATS: tuple[Format, ...] = ("http", "curl")


@dataclass(frozen=True, slots=True)
class PreparedNotification:
    """A notification built but not sent: what a dry run shows."""

    provider: str
    message: Message
    request: Prepared
    notes: Mapping[str, str]


def prepare(composed: Composed) -> PreparedNotification:
    """What the first provider that takes the message would send."""
    provider, message = composed.first.provider, composed.first.message
    return PreparedNotification(
        provider.instance, message, provider.prepare_send(message), provider.describe(message)
    )


class RequestRedactor(Redactor):
    """A :class:`~norq.redaction.Redactor` that also shows prepared requests, masked.

    Called with a prepared request, it renders it as :func:`render` does;
    with anything else, it masks the secrets in its text. ``Norq.redactor``
    is one.
    """

    def __call__(self, value: object) -> str:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, PreparedRequest) or hasattr(value, "transport"):
            return render(value, self)  # type: ignore[arg-type]
        return self.text(str(value))


def render(
    request: Prepared,
    redactor: Redactor | None,
    *,
    fmt: Format = "http",
    comments: Sequence[str] = (),
) -> str:
    """The request as text in ``fmt``, preceded by ``# comment`` lines.

    A request for a non-HTTP transport is shown by its ``str()``, secrets masked.
    """
    hide = _hider(redactor)
    lines = [f"# {hide(comment)}" for comment in comments]
    if not isinstance(request, PreparedRequest):
        lines.append(f"# transport: {request.transport}")
        lines.append(hide(str(request)))
    elif fmt == "curl":
        lines.append(render_curl(request, redactor))
    else:
        lines.append(render_http(request, redactor))
    return "\n".join(lines)


def render_http(request: PreparedRequest, redactor: Redactor | None) -> str:
    """Request line, headers, a blank line and the body decoded for reading."""
    hide = _hider(redactor)
    lines = [f"{request.method} {hide(request.full_url)}"]
    lines.extend(f"{name}: {value}" for name, value in _headers(request, redactor).items())
    body = _readable_body(request, hide)
    if body is not None:
        lines.append("")
        lines.append(body)
    return "\n".join(lines)


def render_curl(request: PreparedRequest, redactor: Redactor | None) -> str:
    """A curl command that sends the same request (runnable once secrets are filled in)."""
    hide = _hider(redactor)
    has_body = request.body_bytes() is not None
    implied = "POST" if has_body else "GET"
    method = f" -X {request.method}" if request.method != implied else ""
    parts = [f"curl{method} {shlex.quote(hide(request.full_url))}"]
    headers = _headers(request, redactor)
    if request.auth is not None:
        password = request.auth.password if redactor is None else MASK
        parts.append(f"--user {shlex.quote(hide(request.auth.username) + ':' + password)}")
        headers.pop("Authorization", None)
    parts.extend(f"-H {shlex.quote(f'{name}: {value}')}" for name, value in headers.items())
    if request.form is not None:
        parts.extend(
            f"--data-urlencode {shlex.quote(quote_plus(key) + '=' + hide(value))}"
            for key, value in request.form
        )
    elif request.json is not None:
        # Redact before encoding: JSON escaping could hide a secret from the redactor.
        body = json.dumps(_hide_tree(request.json, hide), ensure_ascii=False, separators=(",", ":"))
        parts.append(f"--data-raw {shlex.quote(body)}")
    elif request.content is not None:
        parts.append(f"--data-binary {shlex.quote(_content_text(request.content, hide))}")
    return " \\\n  ".join(parts)


def as_data(prepared: PreparedNotification, redactor: Redactor | None) -> dict[str, Any]:
    """A prepared notification as JSON-ready data: its provider, notes and request."""
    return {
        "provider": prepared.provider,
        "notes": dict(prepared.notes),
        "request": as_dict(prepared.request, redactor),
    }


def as_dict(request: Prepared, redactor: Redactor | None) -> dict[str, Any]:
    """The request as JSON-ready data: method, url, headers and the decoded body.

    A request for a non-HTTP transport is its transport name and ``str()``.
    """
    hide = _hider(redactor)
    if not isinstance(request, PreparedRequest):
        return {"transport": request.transport, "request": hide(str(request))}
    body: Any = None
    if request.form is not None:
        body = [[key, hide(value)] for key, value in request.form]
    elif request.json is not None:
        body = _hide_tree(request.json, hide)
    elif request.content is not None:
        body = _content_text(request.content, hide)
    return {
        "method": request.method,
        "url": hide(request.full_url),
        "headers": _headers(request, redactor),
        "body": body,
    }


def _hider(redactor: Redactor | None) -> Callable[[str], str]:
    return redactor.text if redactor is not None else _verbatim


def _verbatim(text: str) -> str:
    return text


def _headers(request: PreparedRequest, redactor: Redactor | None) -> dict[str, str]:
    headers = request.wire_headers()
    return redactor.headers(headers) if redactor is not None else headers


def _readable_body(request: PreparedRequest, hide: Callable[[str], str]) -> str | None:
    if request.form is not None:
        return "\n".join(f"{key}={_escape_controls(hide(value))}" for key, value in request.form)
    if request.json is not None:
        return json.dumps(_hide_tree(request.json, hide), ensure_ascii=False, indent=2)
    if request.content is not None:
        return _content_text(request.content, hide)
    return None


def _content_text(content: bytes, hide: Callable[[str], str]) -> str:
    """Raw content as text when it is UTF-8, else only its size: bytes are not for reading."""
    try:
        return hide(content.decode("utf-8"))
    except UnicodeDecodeError:
        return f"<{len(content)} bytes>"


_CONTROLS = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _escape_controls(value: str) -> str:
    # One form field per line: a body's own line breaks are shown as \n.
    return value.translate(_CONTROLS)


def _hide_tree(value: Any, hide: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return hide(value)
    if isinstance(value, dict):
        return {key: _hide_tree(item, hide) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_hide_tree(item, hide) for item in value]
    return value
