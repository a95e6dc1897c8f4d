"""Norq: send notifications through pluggable providers, declared in YAML.

The public names are listed once, in ``norq/_api.py``: type checkers read its
imports, and this module reads the same lines as data to load each name from
its own module on first use. So ``import norq`` (and the ``norq`` command's
start-up) stays cheap: nothing imports httpx, aiohttp or jinja2 until needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from norq._version import __version__ as __version__

if TYPE_CHECKING:
    from norq._api import *  # noqa: F403

_exports: dict[str, str] = {}


def _public() -> dict[str, str]:
    """Public name -> its module, from the ``from M import N as N`` lines of ``_api.py``."""
    if not _exports:
        import re
        from pathlib import Path

        listing = Path(__file__).with_name("_api.py").read_text(encoding="utf-8")
        for module, name in re.findall(r"^from (norq[\w.]*) import (\w+) as \2$", listing, re.M):
            _exports[name] = module
    return _exports


def __getattr__(name: str) -> Any:
    if name == "__all__":
        value: Any = [*sorted(_public()), "__version__"]
    else:
        module = _public().get(name)
        if module is None:
            raise AttributeError(f"module 'norq' has no attribute {name!r}")
        from importlib import import_module

        value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_public()))
