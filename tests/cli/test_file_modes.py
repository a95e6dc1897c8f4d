"""Files that hold recipients and template data are readable by their owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")

from norq_sandbox import SandboxServer

from tests.cli.conftest import Run, sandbox_config

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    # With the common umask 022, open() creates files readable by everyone.
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_bulk_run_creates_its_journal_and_receipts_for_the_owner_only(
    run: Run, sandbox: SandboxServer, tmp_path: Path
) -> None:
    config = tmp_path / "norq.yaml"
    config.write_text(sandbox_config(sandbox.url))
    people = tmp_path / "people.csv"
    people.write_text("to,name\n+15551230001,Ada\n+15551230002,Bo\n")
    journal = tmp_path / "run.db"
    receipts = tmp_path / "receipts.jsonl"
    before = set(tmp_path.iterdir())

    result = run(
        "send", "sms", "--template", "hello", "--config", str(config), "--progress", "none",
        "--csv", str(people), "--journal", str(journal), "--receipts", str(receipts),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    created = set(tmp_path.iterdir()) - before
    assert {journal, receipts} <= created
    assert {path.name: _mode(path) for path in created} == dict.fromkeys(
        (path.name for path in created), 0o600
    )


def test_an_existing_receipts_file_keeps_the_mode_its_owner_gave_it(
    run: Run, sandbox: SandboxServer, tmp_path: Path
) -> None:
    config = tmp_path / "norq.yaml"
    config.write_text(sandbox_config(sandbox.url))
    receipts = tmp_path / "receipts.jsonl"
    receipts.write_text("")
    receipts.chmod(0o640)

    result = run(
        "send", "sms", "--template", "hello", "--data", "name=Ada", "--config", str(config),
        "--to", "+15551230001", "--receipts", str(receipts),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert receipts.read_text()
    assert _mode(receipts) == 0o640
