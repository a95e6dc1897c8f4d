"""The README's channel table lists every channel and every installed provider, with its page."""

from __future__ import annotations

import re
from pathlib import Path

from norq.plugins import get_plugin_manager, provider_registry

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text("utf-8")


def table() -> dict[str, tuple[set[str], str]]:
    """Provider type -> (channels, linked page), from the rows of the README's channel table."""
    section = README.split("## Channels and providers", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[set[str], str]] = {}
    for channels, providers, page in re.findall(
        r"^\| ([^|]+) \| ([^|]+) \| [^|]+ \| \[[^]]+\]\(([^)]+)\) \|$", section, re.MULTILINE
    ):
        for provider in re.findall(r"`([a-z_]+)`", providers):
            rows[provider] = (set(re.findall(r"`([a-z*]+)`", channels)), page)
    return rows


def test_every_installed_provider_has_a_row_with_its_channels_and_a_page() -> None:
    registry = provider_registry(get_plugin_manager())
    rows = table()
    assert set(rows) == set(registry)
    for name, entry in registry.items():
        channels, page = rows[name]
        assert channels == set(entry.cls.channels), name
        assert (ROOT / page.split("#")[0]).is_file(), page
