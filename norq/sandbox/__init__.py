"""``norq sandbox``: a local Twilio-compatible server with fault injection and a web inbox.

Needs the ``sandbox`` extra (``pip install 'norq[sandbox]'``). Start one in a
test with :class:`SandboxServer`::

    from norq.sandbox import SandboxServer

    with SandboxServer(step_delay=0.01) as sandbox:
        ...  # point Twilio's base_url at sandbox.url
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from norq.sandbox.settings import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_API_KEY_SECRET,
    DEFAULT_API_KEY_SID,
    DEFAULT_AUTH_TOKEN,
    SandboxSettings,
)

if TYPE_CHECKING:
    from norq.sandbox.server import SandboxServer

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_API_KEY_SECRET",
    "DEFAULT_API_KEY_SID",
    "DEFAULT_AUTH_TOKEN",
    "SandboxServer",
    "SandboxSettings",
]


def __getattr__(name: str) -> Any:
    # The server needs uvicorn and Starlette; load them only when it is asked for.
    if name == "SandboxServer":
        from norq.sandbox.server import SandboxServer

        return SandboxServer
    raise AttributeError(f"module 'norq.sandbox' has no attribute {name!r}")
