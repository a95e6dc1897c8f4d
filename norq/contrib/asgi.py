"""Norq in a Starlette or FastAPI application: a lifespan, a dependency, the webhooks.

::

    from fastapi import Depends, FastAPI
    from norq.contrib.asgi import get_norq, norq_lifespan

    app = FastAPI(lifespan=norq_lifespan("norq.yaml", plugins=[DeliveryLog()]))

    @app.post("/signup")
    async def signup(phone: str, sender: norq.Norq = Depends(get_norq)) -> dict[str, str]:
        receipt = await sender.anotify("sms", phone, template="welcome")
        ...

The lifespan builds the application's :class:`norq.Norq` when the server
starts, registers the hook implementations given as ``plugins``, and closes
its clients (aiohttp's sessions, the SMTP pools) on the event loop that used
them when it stops. ``pip install 'norq[fastapi]'``; see docs/fastapi.md.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.requests import HTTPConnection

import norq

#: The key of the application's Norq in the lifespan state (``request.state.norq``).
STATE_KEY = "norq"

#: Where the Norq comes from: a YAML path, a config dict, a ready Norq or a function making one.
Source = str | os.PathLike[str] | Mapping[str, Any] | norq.Norq | Callable[[], norq.Norq] | None
Lifespan = Callable[[Any], AbstractAsyncContextManager[Mapping[str, Any] | None]]


def norq_lifespan(
    source: Source = None, *, plugins: Iterable[object] = (), inner: Lifespan | None = None
) -> Callable[[Any], AbstractAsyncContextManager[dict[str, Any]]]:
    """A lifespan that opens the application's Norq at start-up and closes it at shut-down.

    ``source`` is the path of a YAML config, the config as a dict, a ready
    :class:`norq.Norq`, or a function returning one; by default the
    discovered config (``$NORQ_CONFIG``, else ``./norq.yaml``). ``plugins``
    are objects with ``@norq.hookimpl`` methods (``delivery_status``,
    ``inbound_message``, ``after_send``...), registered on the Norq's plugin
    manager. ``inner`` is the application's own lifespan, run inside this one
    (its state is kept). The Norq is in the lifespan state as ``norq``:
    :func:`get_norq` reads it.
    """
    hooks = tuple(plugins)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        sender = _build(source)
        for plugin in hooks:
            if not sender.plugin_manager.is_registered(plugin):
                sender.plugin_manager.register(plugin)
        try:
            # Built now, so that a broken transport fails the start-up, not the first request.
            sender.executor  # noqa: B018
            if inner is None:
                yield {STATE_KEY: sender}
            else:
                async with inner(app) as state:
                    yield {**(state or {}), STATE_KEY: sender}
        finally:
            await sender.aclose()

    return lifespan


def get_norq(connection: HTTPConnection) -> norq.Norq:
    """The application's Norq, for ``Depends(get_norq)`` or a plain Starlette endpoint."""
    found = getattr(connection.state, STATE_KEY, None)
    if not isinstance(found, norq.Norq):
        raise RuntimeError(
            "the application has no Norq in its lifespan state: create it with "
            "lifespan=norq_lifespan(...) (from norq.contrib.asgi)"
        )
    return found


def _build(source: Source) -> norq.Norq:
    if source is None:
        return norq.Norq.discover()
    if isinstance(source, norq.Norq):
        return source
    if isinstance(source, Mapping):
        return norq.Norq.from_dict(source)
    if isinstance(source, str | os.PathLike):
        return norq.Norq.from_yaml(os.fspath(source))
    return source()
