"""Norq: send notifications through pluggable providers, declared in YAML.

Each public name is loaded from its own module on first use, so ``import
norq`` (and the ``norq`` command's start-up) stays cheap: nothing imports
httpx, aiohttp or jinja2 until needed. ``_EXPORTS`` below is what Python
loads; ``norq/_api.py`` imports the same names for type checkers, and
tests/test_plugins.py keeps the two equal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from norq._version import __version__ as __version__

if TYPE_CHECKING:
    from norq._api import *  # noqa: F403

#: Public name -> the module that defines it.
_EXPORTS = {
    "AddressFormat": "norq.formats",
    "ApiBase": "norq.request",
    "AsyncBulkReceipts": "norq.bulk",
    "BASE_URL": "norq.formats",
    "BasicAuth": "norq.request",
    "BulkReceipts": "norq.bulk",
    "BulkTally": "norq.bulk",
    "Claim": "norq.ledger",
    "ConfigError": "norq.errors",
    "Contact": "norq.contact",
    "DeliveryError": "norq.errors",
    "DeliveryFailure": "norq.receipt",
    "Disposition": "norq.retry",
    "E164": "norq.formats",
    "EMAIL": "norq.formats",
    "EntryState": "norq.ledger",
    "ErrorCode": "norq.error_codes",
    "ErrorFormat": "norq.send_result",
    "ErrorMeaning": "norq.error_table",
    "ErrorTable": "norq.error_table",
    "Executor": "norq.executor",
    "HTTP_URL": "norq.formats",
    "HttpTransport": "norq.transports.http",
    "InboundMessage": "norq.provider",
    "Lease": "norq.ledger",
    "Ledger": "norq.ledger",
    "LedgerEntry": "norq.ledger",
    "LedgerError": "norq.ledger",
    "LedgerRow": "norq.ledger",
    "Message": "norq.message",
    "MessageError": "norq.errors",
    "MessageQuery": "norq.provider",
    "MessageStatus": "norq.provider",
    "Norq": "norq.app",
    "NorqError": "norq.errors",
    "Notification": "norq.notification",
    "Outcome": "norq.receipt",
    "Page": "norq.provider",
    "PluginError": "norq.errors",
    "PreparedNotification": "norq.dryrun",
    "PreparedRequest": "norq.request",
    "Provider": "norq.provider",
    "ProviderConfig": "norq.provider_config",
    "QueryError": "norq.errors",
    "RateLimits": "norq.rate_limits",
    "RawResponse": "norq.raw",
    "Receipt": "norq.receipt",
    "Recipient": "norq.bulk",
    "Register": "norq.register",
    "RegisterCommand": "norq.register",
    "RegisterTransport": "norq.register",
    "ResendPolicy": "norq.ledger",
    "Response": "norq.transports.base",
    "RetryPolicy": "norq.retry",
    "RunInfo": "norq.ledger",
    "SendResult": "norq.send_result",
    "Skipped": "norq.receipt",
    "SqliteLedger": "norq.sqlite_ledger",
    "StoreUnavailable": "norq.errors",
    "TemplateError": "norq.errors",
    "Token": "norq.request",
    "TokenSource": "norq.request",
    "Transport": "norq.transports.base",
    "TransportFailure": "norq.transports.base",
    "TransportSettings": "norq.transports.base",
    "UnsupportedOperation": "norq.errors",
    "aclose": "norq.default",
    "anotify": "norq.default",
    "close": "norq.default",
    "hookimpl": "norq.hookspecs",
    "is_e164": "norq.formats",
    "notify": "norq.default",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'norq' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
