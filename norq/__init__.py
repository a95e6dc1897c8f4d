"""Norq: send notifications through pluggable providers, declared in YAML.

The public names are loaded on first use, so ``import norq`` (and the ``norq``
command's start-up) stays cheap: nothing imports httpx, aiohttp or jinja2
until it is needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from norq._version import __version__

if TYPE_CHECKING:
    from norq.app import (
        Norq,
        PreparedNotification,
        Recipient,
        anotify,
        notify,
    )
    from norq.errors import (
        ConfigError,
        DeliveryError,
        MessageError,
        NorqError,
        PluginError,
        QueryError,
        TemplateError,
        UnsupportedOperation,
    )
    from norq.executor import Executor, Outcome
    from norq.hookspecs import hookimpl
    from norq.message import Message
    from norq.provider import (
        InboundMessage,
        MessageQuery,
        MessageStatus,
        Page,
        Provider,
        ProviderConfig,
    )
    from norq.receipt import DeliveryFailure, ErrorCode, Receipt
    from norq.request import BasicAuth, ErrorFormat, PreparedRequest
    from norq.retry import RetryPolicy

_EXPORTS = {
    "Norq": "norq.app",
    "PreparedNotification": "norq.app",
    "QueryError": "norq.errors",
    "Recipient": "norq.app",
    "anotify": "norq.app",
    "notify": "norq.app",
    "ConfigError": "norq.errors",
    "DeliveryError": "norq.errors",
    "MessageError": "norq.errors",
    "NorqError": "norq.errors",
    "PluginError": "norq.errors",
    "TemplateError": "norq.errors",
    "UnsupportedOperation": "norq.errors",
    "Executor": "norq.executor",
    "Outcome": "norq.executor",
    "hookimpl": "norq.hookspecs",
    "Message": "norq.message",
    "InboundMessage": "norq.provider",
    "MessageQuery": "norq.provider",
    "MessageStatus": "norq.provider",
    "Page": "norq.provider",
    "Provider": "norq.provider",
    "ProviderConfig": "norq.provider",
    "DeliveryFailure": "norq.receipt",
    "ErrorCode": "norq.receipt",
    "Receipt": "norq.receipt",
    "BasicAuth": "norq.request",
    "ErrorFormat": "norq.request",
    "PreparedRequest": "norq.request",
    "RetryPolicy": "norq.retry",
}

__all__ = [
    "BasicAuth",
    "ConfigError",
    "DeliveryError",
    "DeliveryFailure",
    "ErrorCode",
    "ErrorFormat",
    "Executor",
    "InboundMessage",
    "Message",
    "MessageError",
    "MessageQuery",
    "MessageStatus",
    "Norq",
    "NorqError",
    "Outcome",
    "Page",
    "PluginError",
    "PreparedNotification",
    "PreparedRequest",
    "Provider",
    "ProviderConfig",
    "QueryError",
    "Receipt",
    "Recipient",
    "RetryPolicy",
    "TemplateError",
    "UnsupportedOperation",
    "__version__",
    "anotify",
    "hookimpl",
    "notify",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'norq' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
