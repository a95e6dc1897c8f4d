"""The callbacks the ``register_providers``, ``register_transports`` and ``register_commands``
hooks receive."""

from __future__ import annotations

from collections.abc import Callable

from norq.provider import Provider
from norq.transports.base import TransportFactory

Register = Callable[[type[Provider]], None]
RegisterTransport = Callable[[str, TransportFactory], None]
# register(name, "module:attribute", summary): a click command, imported when it runs.
RegisterCommand = Callable[[str, str, str], None]
