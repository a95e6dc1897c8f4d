"""Where a send's recipients come from (``--to``, ``--csv``, ``--retry-failed``) and
where its receipts go (``--receipts``).

Every recipient is a :class:`Row`: its number in the original input (1-based,
the CSV header not counted), its address and its own template data. A receipts
file holds one JSON line per row sent; ``--retry-failed`` reads such a file
back and yields the rows that were never delivered, so rounds can repeat.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click

from norq.cli import UsageFailure
from norq.cli._common import bad_value
from norq.error_codes import UNCONFIRMED_CODES
from norq.receipt import Receipt


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    to: str
    data: Mapping[str, Any] = field(default_factory=dict)


def rows_from_recipients(recipients: Sequence[str]) -> list[Row]:
    return [Row(number, to) for number, to in enumerate(recipients, start=1)]


def rows_from_csv(stream: IO[bytes], to_column: str, name: str) -> Iterator[Row]:
    """Stream the rows of a UTF-8 CSV file with a header line; the header is checked at once.

    Lines are decoded one at a time, so a byte that is not UTF-8 is reported
    with its row and line instead of somewhere in an 8 KB chunk.
    """
    source = _Utf8Lines(stream)
    reader = csv.DictReader(source)
    try:
        columns = reader.fieldnames
    except _NotUtf8 as exc:
        raise bad_value("--csv", f"{name}: the header line {exc.why}") from None
    if not columns:
        raise bad_value("--csv", f"{name} is empty; expected a header line")
    duplicated = sorted({column for column in columns if columns.count(column) > 1})
    if duplicated:
        raise bad_value(
            "--csv",
            f"{name}: the header names {', '.join(map(repr, duplicated))} more than once; "
            "each column needs its own name",
        )
    if to_column not in columns:
        raise bad_value(
            "--csv",
            f"{name} has no {to_column!r} column (columns: {', '.join(columns)}); "
            "name the recipient column with --to-column",
        )
    return _csv_rows(reader, source, to_column, name)


class _NotUtf8(Exception):
    def __init__(self, line: int, error: UnicodeDecodeError) -> None:
        bad = error.object[error.start : error.start + 1].hex()
        self.line = line
        self.why = (
            f"(line {line}) is not UTF-8: byte 0x{bad} at column {error.start + 1}; "
            "save the file as UTF-8"
        )


class _Utf8Lines:
    """The lines of a binary stream as text, decoded strictly one line at a time."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._lines = iter(stream)
        self.line = 0

    def __iter__(self) -> _Utf8Lines:
        return self

    def __next__(self) -> str:
        raw = next(self._lines)
        self.line += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _NotUtf8(self.line, exc) from None
        return text.removeprefix("\ufeff") if self.line == 1 else text


def _csv_rows(
    reader: csv.DictReader[str], source: _Utf8Lines, to_column: str, name: str
) -> Iterator[Row]:
    number = 0
    try:
        for record in reader:
            number += 1
            to = record.get(to_column) or ""
            # A short row has None for its missing cells: leave them out, so a
            # template needing one fails for this row alone with a clear error.
            data = {
                key: value
                for key, value in record.items()
                if key != to_column and key is not None and value is not None
            }
            yield Row(number, to.strip(), data)
    except csv.Error as exc:
        raise UsageFailure(
            f"{name}: malformed CSV after line {reader.line_num} ({exc}); "
            f"rows processed before it: {number}"
        ) from None
    except _NotUtf8 as exc:
        raise UsageFailure(
            f"{name}: row {number + 1} {exc.why}; rows processed before it: {number}"
        ) from None


def count_csv_rows(path: str) -> int | None:
    """About how many data rows a CSV file has (lines minus the header), for the ETA."""
    try:
        with open(path, "rb") as handle:
            lines = 0
            last = b"\n"
            while chunk := handle.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return None
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


@dataclass(frozen=True, slots=True)
class RetryRows:
    """What ``--retry-failed`` may send again.

    ``failed``: rows the provider answered and did not accept; safe to re-send.
    ``unconfirmed``: rows with no delivered receipt of which some send got no
    answer (timeout, lost connection, interrupted); each comes with the
    provider it went through and when that receipt was written, so the
    provider can be asked first. Re-sending them may duplicate the message.
    """

    failed: list[Row]
    unconfirmed: list[tuple[Row, str | None, dt.datetime | None]]


def failed_rows(path: Path, channel: str) -> RetryRows:
    """The rows of a receipts file with no delivered receipt, in row order.

    Two passes keep memory proportional to the failures: the first collects
    failed rows, the second drops every row delivered anywhere in the file (a
    file may hold several rounds, appended). A row any of whose sends went
    unanswered stays unconfirmed even if a later round failed it definitely.
    """
    failed: dict[int, Row] = {}
    unanswered: dict[int, tuple[str | None, dt.datetime | None]] = {}
    for _, line in _receipt_lines(path, channel):
        if not line["ok"]:
            row = line["row"]
            failed[row] = Row(row, line["to"], line.get("data") or {})
            error = line.get("error") or {}
            if isinstance(error, dict) and error.get("code") in UNCONFIRMED_CODES:
                unanswered[row] = (line.get("provider"), _when(line.get("at")))
    if failed:
        for _, line in _receipt_lines(path, channel):
            if line["ok"]:
                failed.pop(line["row"], None)
    return RetryRows(
        [failed[number] for number in sorted(failed) if number not in unanswered],
        [
            (failed[number], *unanswered[number])
            for number in sorted(failed)
            if number in unanswered
        ],
    )


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _receipt_lines(path: Path, channel: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for line_number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            where = f"{path}:{line_number}"
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                raise _bad_line(where, "not JSON") from None
            if not (
                isinstance(line, dict)
                and isinstance(line.get("row"), int)
                and isinstance(line.get("to"), str)
                and isinstance(line.get("ok"), bool)
                and isinstance(line.get("data", {}), dict | None)
            ):
                raise _bad_line(where, "not a receipt (expected row, to, ok and data)")
            if line.get("channel") not in (None, channel):
                raise _bad_line(
                    where, f"this receipt is for channel {line['channel']!r}, not {channel!r}"
                )
            yield line_number, line


def _bad_line(where: str, why: str) -> click.ClickException:
    return bad_value("--retry-failed", f"{where}: {why}")


def receipt_line(row: Row, receipt: Receipt) -> dict[str, Any]:
    """A receipt as a receipts-file line: the row's number, address and data come along."""
    line: dict[str, Any] = {"row": row.number}
    line.update(receipt.to_dict())
    del line["index"]
    line["to"] = row.to
    line["data"] = dict(row.data)
    line["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return line


class ReceiptLog:
    """Writes one JSON line per receipt; appends when asked (a retry into its own input).

    Line-buffered: a receipt is in the file as soon as it is written, so a run
    that is stopped or killed loses none of the receipts it already had.
    """

    def __init__(self, path: Path, *, append: bool = False) -> None:
        self.path = path
        self._file = path.open("a" if append else "w", encoding="utf-8", buffering=1)

    def write(self, row: Row, receipt: Receipt) -> None:
        self._file.write(json.dumps(receipt_line(row, receipt), ensure_ascii=False) + "\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()
