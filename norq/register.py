"""The callbacks the ``register_providers`` and ``register_transports`` hooks receive."""

from __future__ import annotations

from collections.abc import Callable

from norq.provider import Provider
from norq.transports.base import TransportFactory

Register = Callable[[type[Provider]], None]
RegisterTransport = Callable[[str, TransportFactory], None]
