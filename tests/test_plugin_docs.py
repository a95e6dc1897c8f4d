"""The provider example in docs/plugins.md works as written."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import norq
from norq.plugins import get_plugin_manager

DOC = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text("utf-8")


@pytest.fixture
def acme() -> Any:
    namespace: dict[str, Any] = {}
    source = re.findall(r"```python\n(.*?)```", DOC, re.S)[0]
    # As a module of its own would run it: without this file's `from __future__`.
    exec(compile(source, "docs/plugins.md", "exec", dont_inherit=True), namespace)
    pm = get_plugin_manager(load_entry_points=False)
    pm.register(SimpleNamespace(register_providers=namespace["register_providers"]), name="doc")
    return pm


def test_the_documented_provider_builds_its_request(acme: Any) -> None:
    document = {
        "providers": {"acme": {"config": {"api_key": "k3y", "from": "Acme", "region": "us"}}},
        "routing": {"sms": "acme"},
    }
    app = norq.Norq.from_dict(document, plugin_manager=acme, environ={})
    request = app.prepare("sms", "+15551234567", body="hi", priority=3).request
    assert request.url == "https://api.acme.example/v1/us/messages"
    assert request.json == {"from": "Acme", "to": "+15551234567", "text": "hi", "priority": 3}
    assert app.providers["acme"].secret_values() == ["k3y"]


def test_the_documented_validators_report_their_keys(acme: Any) -> None:
    config = {"api_key": "k", "from": "Acme Corporation", "priority": 10, "base_url": "acme"}
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict({"providers": {"acme": {"config": config}}}, plugin_manager=acme)
    assert dict(caught.value.errors) == {
        "providers.acme.config.base_url": "is not an http(s) URL without query or fragment: "
        "it needs http:// or https:// and a host; write it like https://api.example.com",
        "providers.acme.config.from": "is longer than 11 characters; Acme cuts sender IDs there",
        "providers.acme.config.priority": "must be less than or equal to 9",
    }
