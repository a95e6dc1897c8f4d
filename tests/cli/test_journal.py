"""``--journal``, ``--resume`` and ``--retry-failed`` against a sandbox: nobody gets a
message twice unless the user asked for it, and then the summary counts it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import Result

pytest.importorskip("uvicorn")

from norq_sandbox import SandboxServer

from tests.cli.conftest import Run, sandbox_config

pytestmark = pytest.mark.e2e

PEOPLE = [f"+1555123{n:04d}" for n in range(1, 7)]


@pytest.fixture
def config(sandbox: SandboxServer, tmp_path: Path) -> str:
    path = tmp_path / "norq.yaml"
    path.write_text(sandbox_config(sandbox.url))
    return str(path)


@pytest.fixture
def people(tmp_path: Path) -> str:
    path = tmp_path / "people.csv"
    path.write_text("to,name\n" + "".join(f"{to},P{n}\n" for n, to in enumerate(PEOPLE, 1)))
    return str(path)


def _send(run: Run, config: str, *args: str) -> Result:
    return run(
        "send", "sms", "--template", "hello", "--config", config, "--progress", "none",
        "--concurrency", "1", *args,
    )  # fmt: skip


def _copies(sandbox: SandboxServer) -> Counter[str]:
    return Counter(message.draft.to for message in sandbox.messages())


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- using a journal -------------------------------------------------------------------


def test_a_journal_that_records_a_run_needs_resume(
    run: Run, config: str, people: str, tmp_path: Path
) -> None:
    journal = str(tmp_path / "run.db")
    assert _send(run, config, "--csv", people, "--journal", journal).exit_code == 0

    again = _send(run, config, "--csv", people, "--journal", journal)

    assert again.exit_code == 2
    assert "already records a send started" in again.stderr
    assert "add --resume to continue it, or name a new journal file" in again.stderr


def test_resume_needs_a_journal_that_exists(
    run: Run, config: str, people: str, tmp_path: Path
) -> None:
    result = _send(run, config, "--csv", people, "--journal", str(tmp_path / "x.db"), "--resume")

    assert result.exit_code == 2
    assert "x.db does not exist, so there is no run to --resume" in result.stderr


def test_resume_with_other_content_is_refused(
    run: Run, config: str, people: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    journal = str(tmp_path / "run.db")
    _send(run, config, "--csv", people, "--journal", journal)

    result = run(
        "send", "sms", "--body", "other", "--config", config, "--csv", people,
        "--journal", journal, "--resume",
    )  # fmt: skip

    assert result.exit_code == 2
    assert "records another send" in result.stderr
    assert len(sandbox.messages()) == len(PEOPLE)


def test_resume_with_a_changed_input_stops_before_sending_that_row(
    run: Run, config: str, people: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    journal = str(tmp_path / "run.db")
    _send(run, config, "--csv", people, "--journal", journal)
    Path(people).write_text("to,name\n+15559999999,Eve\n")

    result = _send(run, config, "--csv", people, "--journal", journal, "--resume")

    assert result.exit_code == 2
    assert "row 1 was +15551230001" in result.stderr
    assert "the input changed since the run started" in result.stderr
    assert len(sandbox.messages()) == len(PEOPLE)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--resume",), "--resume continues the run in a --journal FILE"),
        (("--resend-unconfirmed",), "--resend-unconfirmed applies to --resume and --retry-failed"),
        (("--dry-run", "--journal", "j.db"), "a dry run sends nothing, so it keeps no --journal"),
    ],
)
def test_journal_options_that_do_not_fit_are_usage_errors(
    run: Run, config: str, people: str, args: tuple[str, ...], message: str
) -> None:
    result = _send(run, config, "--csv", people, *args)

    assert result.exit_code == 2
    assert message in result.stderr


def test_journal_applies_to_csv_only(run: Run, config: str) -> None:
    result = _send(run, config, "--to", PEOPLE[0], "--journal", "j.db")

    assert result.exit_code == 2
    assert "--journal applies to --csv" in result.stderr


def test_resume_skips_accepted_rows_and_resends_failed_ones(
    run: Run, config: str, people: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    journal = str(tmp_path / "run.db")
    sandbox.faults.add("503", count=2)
    first = _send(run, config, "--csv", people, "--journal", journal, "--json")
    assert first.exit_code == 1
    assert json.loads(first.stdout)["failed"] == 2

    second = _send(run, config, "--csv", people, "--journal", journal, "--resume", "--json")

    assert second.exit_code == 0, second.stderr
    summary = json.loads(second.stdout)
    assert (summary["delivered"], summary["skipped_accepted"]) == (2, 4)
    assert _copies(sandbox) == Counter(PEOPLE)


def test_unanswered_rows_are_checked_with_the_provider_on_resume(
    run: Run, config: str, people: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    journal = str(tmp_path / "run.db")
    receipts = tmp_path / "r.jsonl"
    # Row 1 reaches the provider but its answer is lost; row 2 never arrives.
    sandbox.faults.add("accept-drop")
    sandbox.faults.add("drop")
    first = _send(run, config, "--csv", people, "--journal", journal, "--receipts", str(receipts))
    assert first.exit_code == 1
    assert "failed: connection_lost  2" in first.stdout

    second = _send(
        run, config, "--csv", people, "--journal", journal, "--resume", "--receipts", str(receipts)
    )

    assert second.exit_code == 0, second.stderr
    assert "found at provider          1" in second.stdout
    assert "not at provider            1" in second.stdout
    assert "delivered                  1" in second.stdout
    assert _copies(sandbox) == Counter(PEOPLE)
    final = {line["row"]: line for line in _lines(receipts)}
    assert all(line["ok"] for line in final.values())
    assert final[1]["message_id"] == sandbox.sends()[0].message_sid


def test_unanswered_rows_that_cannot_be_checked_are_skipped_unless_asked(
    run: Run, config: str, people: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    journal = str(tmp_path / "run.db")
    sandbox.faults.add("accept-drop")
    _send(run, config, "--csv", people, "--journal", journal)

    sandbox.faults.add("503")  # the listing that would settle row 1 fails
    careful = _send(run, config, "--csv", people, "--journal", journal, "--resume", "--json")

    assert careful.exit_code == 0, careful.stderr
    assert json.loads(careful.stdout)["skipped_unconfirmed"] == 1
    assert "could not check row 1 (+15551230001)" in careful.stderr
    assert "add --resend-unconfirmed to send them" in careful.stderr
    assert _copies(sandbox) == Counter(PEOPLE)

    sandbox.faults.add("503")
    allowed = _send(
        run, config, "--csv", people, "--journal", journal, "--resume",
        "--resend-unconfirmed", "--json",
    )  # fmt: skip

    assert allowed.exit_code == 0, allowed.stderr
    summary = json.loads(allowed.stdout)
    assert (summary["delivered"], summary["may_duplicate"]) == (1, 1)
    assert _copies(sandbox)[PEOPLE[0]] == 2  # the duplicate the user allowed, and counted


def test_invalid_numbers_are_sent_once_over_resumes_and_retries(
    run: Run, config: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    invalid = "+15005550001"  # the sandbox refuses it with 21211, as Twilio does
    people = tmp_path / "people.csv"
    rows = [PEOPLE[0], invalid, PEOPLE[1], invalid, PEOPLE[2]]
    people.write_text("to,name\n" + "".join(f"{to},P{n}\n" for n, to in enumerate(rows, 1)))
    journal, receipts = str(tmp_path / "run.db"), tmp_path / "r.jsonl"
    common = ("--csv", str(people), "--journal", journal, "--receipts", str(receipts))
    first = _send(run, config, *common)
    assert first.exit_code == 1, first.stderr
    assert "2 rows failed for good" in first.stderr
    assert "--retry-failed" not in first.stderr

    resumed = [_send(run, config, *common, "--resume", "--json") for _ in range(2)]
    retried = [
        _send(run, config, "--retry-failed", str(receipts), "--receipts", str(receipts), "--json")
        for _ in range(2)
    ]

    posts = Counter(send.params["To"][0] for send in sandbox.sends())
    assert posts[invalid] == 2  # each invalid row once
    assert all(posts[to] == 1 for to in PEOPLE[:3])
    assert sorted(line["row"] for line in _lines(receipts)) == [1, 2, 3, 4, 5]
    for result in resumed:
        assert result.exit_code == 0, result.stderr
        summary = json.loads(result.stdout)
        assert (summary["rows"], summary["skipped_accepted"], summary["skipped_final"]) == (5, 3, 2)
    for result in retried:
        assert result.exit_code == 0, result.stderr
        summary = json.loads(result.stdout)
        assert (summary["rows"], summary["skipped_final"], summary["delivered"]) == (2, 2, 0)


# -- --retry-failed ----------------------------------------------------------------------


def test_retry_failed_checks_unanswered_rows_before_resending(
    run: Run, config: str, people: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    receipts = tmp_path / "r.jsonl"
    sandbox.faults.add("accept-drop")
    sandbox.faults.add("drop")
    sandbox.faults.add("503")
    first = _send(run, config, "--csv", people, "--receipts", str(receipts))
    assert first.exit_code == 1

    retry = _send(run, config, "--retry-failed", str(receipts), "--receipts", str(receipts))

    assert retry.exit_code == 0, retry.stderr
    assert "found at provider  1" in retry.stdout
    assert _copies(sandbox) == Counter(PEOPLE)
    rounds = _lines(receipts)
    assert {line["row"] for line in rounds[len(PEOPLE) :]} == {1, 2, 3}
    assert all(line["ok"] for line in rounds[len(PEOPLE) :])
    again = _send(run, config, "--retry-failed", str(receipts), "--json")
    assert json.loads(again.stdout)["rows"] == 0


def test_retry_failed_skips_unanswered_rows_it_cannot_check_unless_asked(
    run: Run, config: str, people: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    receipts = tmp_path / "r.jsonl"
    sandbox.faults.add("accept-drop")
    _send(run, config, "--csv", people, "--receipts", str(receipts))

    sandbox.faults.add("503")
    careful = _send(run, config, "--retry-failed", str(receipts), "--json")

    assert careful.exit_code == 0, careful.stderr
    assert json.loads(careful.stdout)["skipped_unconfirmed"] == 1
    assert _copies(sandbox) == Counter(PEOPLE)

    sandbox.faults.add("503")
    allowed = _send(run, config, "--retry-failed", str(receipts), "--resend-unconfirmed", "--json")

    assert json.loads(allowed.stdout)["may_duplicate"] == 1
    assert _copies(sandbox)[PEOPLE[0]] == 2


# -- the CSV itself ----------------------------------------------------------------------


def test_a_byte_that_is_not_utf8_is_a_usage_error_naming_its_row(
    run: Run, config: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(
        b"to,name\n+15551230001,Ann\n+15551230002,Bob\n+15551230003,Caf\xe9\n+15551230004,Dan\n"
    )
    receipts = tmp_path / "r.jsonl"

    result = _send(run, config, "--csv", str(path), "--receipts", str(receipts))

    assert result.exit_code == 2
    assert f"{path}: row 3 (line 4) is not UTF-8: byte 0xe9 at column 17" in result.stderr
    assert "save the file as UTF-8; rows processed before it: 2" in result.stderr
    assert "Traceback" not in result.stderr
    assert [line["row"] for line in _lines(receipts)] == [1, 2]
    assert len(sandbox.messages()) == 2


def test_a_bad_header_byte_is_a_usage_error_before_anything_is_sent(
    run: Run, config: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"to,n\xffme\n+15551230001,Ann\n")

    result = _send(run, config, "--csv", str(path))

    assert result.exit_code == 2
    assert "the header line (line 1) is not UTF-8: byte 0xff at column 5" in result.stderr
    assert sandbox.requests() == []


def test_a_duplicate_column_is_a_usage_error(
    run: Run, config: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("to,name,city,name\n+15551230001,Ann,Oslo,Anna\n")

    result = _send(run, config, "--csv", str(path))

    assert result.exit_code == 2
    assert "the header names 'name' more than once" in result.stderr
    assert sandbox.requests() == []


def test_a_byte_order_mark_is_not_part_of_the_first_column(
    run: Run, config: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffto,name\n+15551230001,Ann\n".encode())

    result = _send(run, config, "--csv", str(path))

    assert result.exit_code == 0, result.stderr
    assert [m.draft.body for m in sandbox.messages()] == ["Hello Ann"]
