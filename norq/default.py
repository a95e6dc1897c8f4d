"""The process-wide default :class:`~norq.Norq`, and the module-level ``notify`` that uses it.

``norq.notify(...)`` and ``await norq.anotify(...)`` send with a Norq built by
:meth:`Norq.discover <norq.Norq.discover>` on first use, once however many
threads send at once. :func:`close` (or :func:`aclose` inside an event loop)
releases it; it is also closed at interpreter exit.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, overload

from norq.app import Norq

if TYPE_CHECKING:
    from norq.contact import ContactLike
    from norq.receipt import Receipt

_default: Norq | None = None
_default_lock = threading.Lock()


def default_norq() -> Norq:
    """The process-wide Norq from the discovered config, created on first use.

    It is closed at interpreter exit, or earlier by :func:`close` / :func:`aclose`.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Norq.discover()
                atexit.register(close)
    return _default


def close() -> None:
    """Close the module-level default Norq (the one ``norq.notify`` uses), if it exists.

    Its connections are released; the next ``norq.notify`` builds a new one.
    Async clients still in use by a running event loop are closed in that loop.
    """
    global _default
    with _default_lock:
        default, _default = _default, None
    if default is not None:
        default.close()


async def aclose() -> None:
    """Async :func:`close`: the running loop's clients are closed by awaiting them."""
    global _default
    with _default_lock:
        default, _default = _default, None
    if default is not None:
        await default.aclose()


@overload
def notify(
    channel: str,
    to: str,
    *,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
    **fields: Any,
) -> Receipt: ...


@overload
def notify(
    *, notification: str, to: ContactLike, data: Mapping[str, Any] | None = None
) -> list[Receipt]: ...


def notify(
    channel: str | None = None,
    to: Any = None,
    *,
    notification: str | None = None,
    **content: Any,
) -> Receipt | list[Receipt]:
    """:meth:`Norq.notify` on the discovered default config."""
    send: Callable[..., Receipt | list[Receipt]] = default_norq().notify
    return send(channel, to, notification=notification, **content)


@overload
async def anotify(
    channel: str,
    to: str,
    *,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
    **fields: Any,
) -> Receipt: ...


@overload
async def anotify(
    *, notification: str, to: ContactLike, data: Mapping[str, Any] | None = None
) -> list[Receipt]: ...


async def anotify(
    channel: str | None = None,
    to: Any = None,
    *,
    notification: str | None = None,
    **content: Any,
) -> Receipt | list[Receipt]:
    """:meth:`Norq.anotify` on the discovered default config."""
    send: Callable[..., Awaitable[Receipt | list[Receipt]]] = default_norq().anotify
    return await send(channel, to, notification=notification, **content)
