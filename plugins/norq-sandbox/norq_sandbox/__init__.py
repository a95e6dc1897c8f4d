"""norq-sandbox: local stand-ins for the providers Norq speaks, with faults and a web inbox.

``norq sandbox`` runs it from the command line (this distribution adds the
command through Norq's ``register_commands`` hook). Start one in a test with
:class:`SandboxServer`::

    from norq_sandbox import SandboxServer

    with SandboxServer(step_delay=0.01) as sandbox:
        ...  # point Twilio's base_url at sandbox.url

Every name loads on first use, so Norq's plugin loading, which imports this
package for its hook, stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from norq_sandbox.server import SandboxServer
    from norq_sandbox.settings import (
        DEFAULT_ACCOUNT_SID,
        DEFAULT_API_KEY_SECRET,
        DEFAULT_API_KEY_SID,
        DEFAULT_AUTH_TOKEN,
        SandboxSettings,
    )

_EXPORTS = {
    "DEFAULT_ACCOUNT_SID": "norq_sandbox.settings",
    "DEFAULT_API_KEY_SECRET": "norq_sandbox.settings",
    "DEFAULT_API_KEY_SID": "norq_sandbox.settings",
    "DEFAULT_AUTH_TOKEN": "norq_sandbox.settings",
    "SandboxServer": "norq_sandbox.server",
    "SandboxSettings": "norq_sandbox.settings",
}

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_API_KEY_SECRET",
    "DEFAULT_API_KEY_SID",
    "DEFAULT_AUTH_TOKEN",
    "SandboxServer",
    "SandboxSettings",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'norq_sandbox' has no attribute {name!r}")
    return getattr(import_module(module), name)
