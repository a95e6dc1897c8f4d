"""The hooks a Norq plugin can implement. See docs/plugins.md for the contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:
    from norq.message import Message
    from norq.provider import InboundMessage, MessageStatus, Provider
    from norq.receipt import Receipt
    from norq.request import PreparedRequest
    from norq.transports.base import TransportFactory

hookspec = HookspecMarker("norq")
hookimpl = HookimplMarker("norq")


@hookspec
def register_providers(register: Callable[[type[Provider]], None]) -> None:
    """Register provider classes by calling ``register(ProviderSubclass)``."""


@hookspec
def register_transports(register: Callable[[str, TransportFactory], None]) -> None:
    """Register transports by calling ``register(name, factory)``; requests name theirs."""


@hookspec
def register_commands(register: Callable[[str, str, str], None]) -> None:
    """Add ``norq`` subcommands by calling ``register(name, "module:command", summary)``."""


@hookspec
def before_send(request: PreparedRequest, message: Message, provider: str) -> None:
    """Observe a request just before its first attempt; return value ignored."""


@hookspec
def after_send(receipt: Receipt) -> None:
    """Observe the receipt of every notification, delivered or failed."""


@hookspec
def delivery_status(status: MessageStatus, provider: str) -> None:
    """A provider's webhook reported a delivery status change."""


@hookspec
def inbound_message(message: InboundMessage, provider: str) -> None:
    """A provider's webhook delivered a message sent to you."""
