"""The type of the ``register`` callback a ``register_providers`` hook receives."""

from __future__ import annotations

from collections.abc import Callable

from norq.provider import Provider

Register = Callable[[type[Provider]], None]
