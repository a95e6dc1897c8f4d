"""The docs as a whole: every page is reachable from the README, markers are well formed,
and the configuration outline names every top-level key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from norq.config import TOP_LEVEL_KEYS
from tests.docs.envs import ROOT
from tests.docs.markdown import RUNNABLE, MarkupError, read_page

PAGES = sorted((ROOT / "docs").rglob("*.md"))


def test_the_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    linked = {ROOT / target for target in re.findall(r"\]\((docs/[^)#\s]+\.md)", readme)}
    missing = [str(page.relative_to(ROOT)) for page in PAGES if page not in linked]
    assert not missing, f"add these pages to README.md's Documentation list: {missing}"


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_markers_are_well_formed(page: Path) -> None:
    read_page(page)  # raises MarkupError naming the line


def test_a_skip_without_a_reason_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Text\n\n<!-- docs: skip -->\n```python\nprint(1)\n```\n", "utf-8")
    with pytest.raises(MarkupError, match=r"page.md:3: 'docs: skip' needs a reason"):
        read_page(page)


def test_an_unknown_marker_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- docs: skipp later -->\n```sh\nnorq --version\n```\n", "utf-8")
    with pytest.raises(MarkupError, match=r"page.md:1: unknown marker 'docs: skipp'"):
        read_page(page)


def test_blocks_run_by_language_unless_marked(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\na = 1\n```\n\n```text\nshown\n```\n\n"
        "<!-- docs: skip needs an account -->\n```sh\nnorq send\n```\n\n"
        "<!-- docs: file people.csv -->\n```text\nto\n+15551230001\n```\n",
        "utf-8",
    )
    blocks = read_page(page).blocks
    assert [(b.language, b.runs) for b in blocks] == [
        ("python", True),
        ("text", False),
        ("sh", False),
        ("text", True),
    ]
    assert blocks[3].file == "people.csv"
    assert blocks[2].skip == "needs an account"
    assert {"python", "sh", "console", "yaml"} == RUNNABLE


def test_the_configuration_outline_names_every_top_level_key() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    outline = text.split("## The file", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    written = set(re.findall(r"^([a-z_]+):", outline, re.MULTILINE))
    assert written == set(TOP_LEVEL_KEYS)


def test_a_hidden_file_is_written_but_not_shown(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Intro\n<!-- docs: file invoice.pdf\n%PDF-1.4\n-->\n\n```python\nx = 1\n```\n")
    hidden, shown = read_page(page).blocks
    assert (hidden.file, hidden.text, hidden.runs) == ("invoice.pdf", "%PDF-1.4\n", True)
    assert hidden.line == 2
    assert shown.language == "python"


def test_a_block_marked_background_is_read_as_such(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- docs: background -->\n```console\n$ norq worker\n```\n", "utf-8")
    (block,) = read_page(page).blocks
    assert (block.background, block.runs) == (True, True)
