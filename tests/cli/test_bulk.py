"""Bulk sends from CSV: every row accounted for, receipts, retry rounds, progress, summary."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from norq.bulk import BulkTally, RowResult
from norq.cli import UsageFailure
from norq.cli.progress import BarProgress, LineProgress, NoProgress, make_progress
from norq.cli.rows import MAX_CELL, MAX_LINE, count_csv_rows, rows_from_csv
from norq.receipt import DeliveryFailure, Receipt
from tests.cli.conftest import Run
from tests.cli.loopback import FakeApi

GOOD = ["+15551230001", "+15551230002", "+15551230003"]
REJECTED = "+15551239999"
FLAKY = "+15551238888"


def _csv(tmp_path: Path, rows: list[tuple[str, str]], header: str = "to,name") -> str:
    path = tmp_path / "people.csv"
    path.write_text(header + "\n" + "".join(f"{to},{name}\n" for to, name in rows))
    return str(path)


def _receipts(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _bulk(run: Run, config: str, *args: str) -> object:
    return run(
        "send", "sms", "--template", "outage", "--data", "service=Mail",
        "--progress", "none", "--config", config, *args,
    )  # fmt: skip


@pytest.fixture
def people(tmp_path: Path) -> str:
    return _csv(
        tmp_path,
        [(GOOD[0], "Ann"), (REJECTED, "Rex"), ("555", "Bad"), (FLAKY, "Flo"), (GOOD[1], "Bob")],
    )


def test_every_row_gets_exactly_one_receipt_with_its_number_and_data(
    run: Run, fake_config: str, api: FakeApi, people: str, tmp_path: Path
) -> None:
    api.rejected.add(REJECTED)
    out = tmp_path / "r1.jsonl"
    result = _bulk(run, fake_config, "--csv", people, "--receipts", str(out))
    assert result.exit_code == 1, result.output
    lines = sorted(_receipts(out), key=lambda line: line["row"])
    assert [(line["row"], line["ok"]) for line in lines] == [
        (1, True), (2, False), (3, False), (4, True), (5, True),
    ]  # fmt: skip
    assert lines[0]["data"] == {"name": "Ann"}
    assert lines[0]["message_id"] in api.messages
    assert lines[1]["error"]["code"] == "invalid_recipient"  # type: ignore[index]
    assert lines[2]["attempts"] == 0
    assert sorted(m["body"] for m in api.messages.values()) == [
        "Mail is down, Ann", "Mail is down, Bob", "Mail is down, Flo",
    ]  # fmt: skip


def test_summary_table_counts_delivered_and_failures_by_code(
    run: Run, fake_config: str, api: FakeApi, people: str
) -> None:
    api.rejected.add(REJECTED)
    result = _bulk(run, fake_config, "--csv", people)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["delivered", "3"]
    assert lines[1].split()[:4] == ["failed:", "invalid_recipient", "2", "row"]
    assert lines[2].split()[:2] == ["total", "5"]
    assert "pass --receipts FILE" in result.stderr


def test_json_summary(run: Run, fake_config: str, api: FakeApi, people: str) -> None:
    api.rejected.add(REJECTED)
    result = _bulk(run, fake_config, "--csv", people, "--json")
    summary = json.loads(result.stdout)
    assert summary["rows"] == 5
    assert summary["delivered"] == 3
    assert summary["failed_by_code"] == {"invalid_recipient": 2}


def test_retry_failed_resends_the_failed_rows_that_may_succeed_and_rounds_repeat(
    run: Run, fake_config: str, api: FakeApi, people: str, tmp_path: Path
) -> None:
    api.rejected.add(REJECTED)
    api.unavailable.add(FLAKY)
    r1, r2, r3 = (tmp_path / f"r{n}.jsonl" for n in (1, 2, 3))
    assert _bulk(run, fake_config, "--csv", people, "--receipts", str(r1)).exit_code == 1
    assert (api.posts_to(GOOD[0]), api.posts_to(FLAKY), api.posts_to(REJECTED)) == (1, 1, 1)

    second = _bulk(run, fake_config, "--retry-failed", str(r1), "--receipts", str(r2), "--json")
    assert second.exit_code == 0
    # Rows 2 and 3 failed for good (a number the provider refused, a malformed one):
    # only the flaky row 4 is sent again.
    assert [(line["row"], line["ok"]) for line in _receipts(r2)] == [(4, True)]
    assert (api.posts_to(GOOD[0]), api.posts_to(FLAKY), api.posts_to(REJECTED)) == (1, 2, 1)
    summary = json.loads(second.stdout)
    assert (summary["rows"], summary["delivered"], summary["skipped_final"]) == (3, 1, 2)
    flo = next(line for line in _receipts(r2) if line["row"] == 4)
    assert flo["data"] == {"name": "Flo"}

    third = _bulk(
        run, fake_config, "--retry-failed", str(r1), "--retry-final", "--receipts", str(r3)
    )
    assert third.exit_code == 1
    assert sorted(line["row"] for line in _receipts(r3)) == [2, 3, 4]
    assert (api.posts_to(GOOD[0]), api.posts_to(FLAKY), api.posts_to(REJECTED)) == (1, 3, 2)


def test_retry_into_its_own_file_appends_and_the_next_round_skips_delivered_rows(
    run: Run, fake_config: str, api: FakeApi, people: str, tmp_path: Path
) -> None:
    api.unavailable.add(FLAKY)
    log = tmp_path / "log.jsonl"
    _bulk(run, fake_config, "--csv", people, "--receipts", str(log))
    assert len(_receipts(log)) == 5
    _bulk(run, fake_config, "--retry-failed", str(log), "--receipts", str(log))
    assert len(_receipts(log)) == 6  # row 4 appended; row 3, a malformed number, skipped
    third = _bulk(run, fake_config, "--retry-failed", str(log), "--receipts", str(log))
    assert api.posts_to(FLAKY) == 2
    assert len(_receipts(log)) == 6
    summary = third.stdout.splitlines()
    assert summary[0].split() == ["delivered", "0"]
    assert summary[1].split()[:4] == ["skipped:", "failed", "for", "good"]
    assert summary[-1].split()[:2] == ["total", "1"]  # only row 3, the bad number


def test_retry_with_nothing_failed_sends_nothing_and_exits_0(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    rows = _csv(tmp_path, [(GOOD[0], "Ann")])
    out = tmp_path / "r.jsonl"
    _bulk(run, fake_config, "--csv", rows, "--receipts", str(out))
    result = _bulk(run, fake_config, "--retry-failed", str(out))
    assert result.exit_code == 0
    assert api.posts == 1


def test_retry_file_for_another_channel_is_refused(
    run: Run, fake_config: str, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text(json.dumps({"row": 1, "to": "x", "ok": False, "channel": "chat"}) + "\n")
    result = _bulk(run, fake_config, "--retry-failed", str(out))
    assert result.exit_code == 2
    assert "for channel 'chat', not 'sms'" in result.stderr


@pytest.mark.parametrize("line", ["not json", '{"row": "one", "to": "x", "ok": false}', "[1]"])
def test_retry_file_with_a_bad_line_is_refused(
    run: Run, fake_config: str, tmp_path: Path, line: str
) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text("\n" + line + "\n")
    result = _bulk(run, fake_config, "--retry-failed", str(out))
    assert result.exit_code == 2
    assert f"{out}:2:" in result.stderr


def test_to_column_names_the_recipient_column(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    rows = _csv(tmp_path, [(GOOD[0], "Ann")], header="phone,name")
    result = _bulk(run, fake_config, "--csv", rows, "--to-column", "phone")
    assert result.exit_code == 0, result.output
    assert [m["to"] for m in api.messages.values()] == [GOOD[0]]


def test_missing_recipient_column_is_a_usage_error(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    rows = _csv(tmp_path, [(GOOD[0], "Ann")], header="phone,name")
    result = _bulk(run, fake_config, "--csv", rows)
    assert result.exit_code == 2
    assert "has no 'to' column (columns: phone, name)" in result.stderr
    assert api.posts == 0


def test_empty_csv_is_a_usage_error(run: Run, fake_config: str, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = _bulk(run, fake_config, "--csv", str(path))
    assert result.exit_code == 2
    assert "is empty" in result.stderr


def test_short_rows_and_empty_recipients_become_failed_receipts(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(f"to,name\n{GOOD[0]}\n,Nobody\n{GOOD[1]},Bob,extra\n")
    out = tmp_path / "r.jsonl"
    result = _bulk(run, fake_config, "--csv", str(path), "--receipts", str(out))
    assert result.exit_code == 1
    codes = {line["row"]: (line["error"] or {}).get("code") for line in _receipts(out)}  # type: ignore[union-attr]
    assert codes == {1: "template_error", 2: "invalid_recipient", 3: None}


def test_csv_from_stdin(run: Run, fake_config: str, api: FakeApi) -> None:
    result = run(
        "send", "sms", "--body", "hi", "--csv", "-", "--progress", "none", "--config", fake_config,
        input=f"to\n{GOOD[0]}\n{GOOD[1]}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert api.posts == 2


def test_many_rows_with_concurrency_are_all_accounted_for(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    rows = [(f"+1555{n:07d}", f"n{n}") for n in range(300)]
    api.rejected.update(to for to, _ in rows[::50])
    out = tmp_path / "r.jsonl"
    result = _bulk(
        run, fake_config, "--csv", _csv(tmp_path, rows), "--concurrency", "8",
        "--receipts", str(out),
    )  # fmt: skip
    assert result.exit_code == 1
    lines = _receipts(out)
    assert sorted(line["row"] for line in lines) == list(range(1, 301))
    assert sum(not line["ok"] for line in lines) == 6
    assert api.posts == 300


def test_malformed_csv_stops_with_the_line_number(
    run: Run, fake_config: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    # A carriage return inside an unquoted cell: the csv module refuses it.
    path.write_bytes(f"to,name\n{GOOD[0]},Ann\n{GOOD[1]},Bo\rb\n".encode())
    result = _bulk(run, fake_config, "--csv", str(path))
    assert result.exit_code == 2
    assert "malformed CSV after line 2 (new-line character seen" in result.stderr
    assert "rows processed before it: 1" in result.stderr


def test_a_cell_over_the_cap_stops_with_its_row(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    path = tmp_path / "huge.csv"
    path.write_text(f"to,name\n{GOOD[0]},Ann\n{GOOD[1]},{'x' * (MAX_CELL + 1)}\n")
    result = _bulk(run, fake_config, "--csv", str(path))
    assert result.exit_code == 2
    assert f"row 2 (line 3) has a cell longer than {MAX_CELL:,} characters" in result.stderr
    assert "rows processed before it: 1" in result.stderr
    assert api.posts == 1  # row 1; row 2 never goes out


def test_a_quoted_cell_over_the_cap_spanning_lines_stops_with_its_row(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    line = "y" * 1000 + "\n"
    cell = '"' + line * (MAX_CELL // len(line) + 1) + '"'
    path = tmp_path / "people.csv"
    path.write_text(f"to,name\n{GOOD[0]},{cell}\n")
    result = _bulk(run, fake_config, "--csv", str(path))
    assert result.exit_code == 2
    assert "people.csv: row 1 (line " in result.stderr
    assert f"has a cell longer than {MAX_CELL:,} characters" in result.stderr


class _EndlessLine(io.BytesIO):
    """A CSV whose second row is one line of 20 MB; records the most it was asked for at once."""

    def __init__(self) -> None:
        super().__init__(f"to,name\n{GOOD[0]},".encode() + b"x" * 20_000_000 + b"\n")
        self.largest_read = 0

    def readline(self, size: int | None = -1) -> bytes:
        # An unbounded readline would hold the whole line.
        assert size is not None
        assert size >= 0
        line = super().readline(size)
        self.largest_read = max(self.largest_read, len(line))
        return line

    def __next__(self) -> bytes:
        raise AssertionError("iterating reads whole lines, however long")


def test_a_huge_line_is_never_read_whole() -> None:
    stream = _EndlessLine()
    rows = rows_from_csv(stream, "to", "people.csv")
    with pytest.raises(UsageFailure) as refused:
        list(rows)
    assert "people.csv: row 1 (line 2) is longer than" in str(refused.value)
    assert stream.largest_read <= MAX_LINE + 1


def test_lines_progress_goes_to_stderr(
    run: Run, fake_config: str, api: FakeApi, people: str
) -> None:
    result = run(
        "send", "sms", "--body", "hi", "--csv", people, "--progress", "lines",
        "--config", fake_config,
    )  # fmt: skip
    assert "norq: 5/5 rows (100%), 1 failed" in result.stderr
    assert "norq:" not in result.stdout


def test_bar_progress_draws_with_rich(
    run: Run, fake_config: str, api: FakeApi, people: str
) -> None:
    result = run(
        "send", "sms", "--body", "hi", "--csv", people, "--progress", "bar",
        "--config", fake_config,
    )  # fmt: skip
    assert "sending" in result.stderr
    assert "5/5" in result.stderr


# -- the pieces -------------------------------------------------------------------


def _result(row: int, ok: bool, code: str = "rate_limited") -> RowResult:
    error = None if ok else DeliveryFailure(code=code, message=f"{code} happened")
    receipt = Receipt(ok=ok, channel="sms", provider="p", to="+1", attempts=1, error=error)
    return RowResult(row - 1, "+1", {}, receipt)


def test_line_progress_prints_at_most_every_interval_with_rate_and_eta() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = LineProgress(stream, 100, interval=2.0, clock=lambda: now[0])
    tally = BulkTally()
    for second in range(1, 6):
        now[0] = float(second)
        for _ in range(10):
            tally.add(_result(1, True))
        progress.update(tally)
    tally.add(_result(51, False))
    progress.close(tally)
    assert stream.getvalue().splitlines() == [
        "norq: 20/100 rows (20%), 0 failed, 10/s, ETA 0:00:08",
        "norq: 40/100 rows (40%), 0 failed, 10/s, ETA 0:00:06",
        "norq: 51/100 rows (51%), 1 failed, 10/s, ETA 0:00:05",
    ]


def test_line_progress_without_a_total() -> None:
    stream = io.StringIO()
    progress = LineProgress(stream, None, clock=lambda: 1.0)
    progress.close(BulkTally(delivered=3))
    assert stream.getvalue() == "norq: 3 rows, 0 failed, 0/s\n"


def test_auto_progress_is_lines_off_a_terminal_and_none_means_none() -> None:
    assert isinstance(make_progress("auto", io.StringIO(), 10), LineProgress)
    assert isinstance(make_progress("none", io.StringIO(), 10), NoProgress)


def test_auto_progress_is_a_bar_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    progress = make_progress("auto", Terminal(), 10)
    assert isinstance(progress, BarProgress)
    progress.close(BulkTally())


def test_tally_keeps_the_first_example_of_each_code() -> None:
    tally = BulkTally()
    tally.add(_result(7, False))
    tally.add(_result(9, False))
    assert tally.by_code == {"rate_limited": 2}
    assert tally.examples == {"rate_limited": "row 7: rate_limited happened"}


def test_count_csv_rows_estimates_data_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("to\na\nb\nc")
    assert count_csv_rows(str(path)) == 3
    assert count_csv_rows(str(tmp_path / "missing.csv")) is None
