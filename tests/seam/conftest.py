"""A plugin manager with the two public-API providers, and configs for them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pluggy
import pytest

from norq.plugins import get_plugin_manager
from tests.seam.providers import SeamProviders

CHIRP_SECRET = "chirp-s3cret"
PARCEL_KEY = "SG.parcel-k3y"


@pytest.fixture
def pm() -> Iterator[pluggy.PluginManager]:
    manager = get_plugin_manager()
    plugin = SeamProviders()
    manager.register(plugin, name="seam-providers")
    try:
        yield manager
    finally:
        manager.unregister(plugin)


def chirp(base_url: str = "https://a.chirp.test", **retry: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": "chirp",
        "config": {"base_url": base_url, "api_key": "key", "api_secret": CHIRP_SECRET},
    }
    if retry:
        entry["retry"] = retry
    return entry


def parcel(base_url: str = "https://api.parcel.test") -> dict[str, Any]:
    return {
        "type": "parcel",
        "config": {"base_url": base_url, "api_key": PARCEL_KEY, "sender": "ops@norq.test"},
    }


def config(**providers: dict[str, Any]) -> dict[str, Any]:
    """Providers by instance name; sms routes to the chirp ones in order, email to parcel."""
    sms = [name for name, entry in providers.items() if entry["type"] == "chirp"]
    email = [name for name, entry in providers.items() if entry["type"] == "parcel"]
    routing: dict[str, Any] = {}
    if sms:
        routing["sms"] = sms
    if email:
        routing["email"] = email
    return {"providers": providers, "routing": routing}
