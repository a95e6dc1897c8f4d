"""The project's :class:`norq.Norq`, built once from ``settings.NORQ``.

``settings.NORQ`` is the configuration as a dict (the shape of
``norq.yaml``) or the path of a YAML file. The Norq is built on first use,
rebuilt when a test changes the setting (``override_settings(NORQ=...)``),
and closed when the process exits.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

import norq

_lock = threading.Lock()
_built: norq.Norq | None = None


def get_norq() -> norq.Norq:
    """The Norq configured by ``settings.NORQ``; :class:`ImproperlyConfigured` if it is wrong."""
    global _built
    found = _built
    if found is None:
        with _lock:
            found = _built
            if found is None:
                found = _built = _build()
    return found


def reset() -> None:
    """Close the project's Norq; the next :func:`get_norq` builds it again from the settings."""
    global _built
    with _lock:
        found, _built = _built, None
    if found is not None:
        found.close()


def _build() -> norq.Norq:
    value: Any = getattr(settings, "NORQ", None)
    try:
        if isinstance(value, Mapping):
            base_dir = getattr(settings, "BASE_DIR", None)
            return norq.Norq.from_dict(value, base_dir=base_dir)
        if isinstance(value, str | os.PathLike):
            return norq.Norq.from_yaml(os.fspath(value))
    except norq.ConfigError as exc:
        raise ImproperlyConfigured(f"settings.NORQ: {exc}") from exc
    given = "is not set" if value is None else f"is a {type(value).__name__}"
    raise ImproperlyConfigured(
        f"settings.NORQ {given}: set it to the path of your norq.yaml "
        '(NORQ = BASE_DIR / "norq.yaml") or to the configuration as a dict'
    )


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "NORQ":
        reset()


setting_changed.connect(_settings_changed, dispatch_uid="norq.contrib.django.conf")
atexit.register(reset)
