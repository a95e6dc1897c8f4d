"""Where a send's recipients come from (``--to``, ``--csv``, ``--retry-failed``) and
where its receipts go (``--receipts``).

Every recipient is a :class:`Row`: its number in the original input (1-based,
the CSV header not counted), its address and its own template data. A receipts
file holds one JSON line per row sent; ``--retry-failed`` reads such a file
back and yields the rows that were never delivered, so rounds can repeat.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click

from norq.cli import UsageFailure
from norq.cli._common import bad_value
from norq.receipt import Receipt


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    to: str
    data: Mapping[str, Any] = field(default_factory=dict)


def rows_from_recipients(recipients: Sequence[str]) -> list[Row]:
    return [Row(number, to) for number, to in enumerate(recipients, start=1)]


def rows_from_csv(stream: IO[str], to_column: str) -> Iterator[Row]:
    """Stream the rows of a CSV file with a header line; the header is checked at once."""
    reader = csv.DictReader(stream)
    columns = reader.fieldnames
    name = getattr(stream, "name", "CSV")
    if not columns:
        raise bad_value("--csv", f"{name} is empty; expected a header line")
    if to_column not in columns:
        raise bad_value(
            "--csv",
            f"{name} has no {to_column!r} column (columns: {', '.join(columns)}); "
            "name the recipient column with --to-column",
        )
    return _csv_rows(reader, to_column, name)


def _csv_rows(reader: csv.DictReader[str], to_column: str, name: str) -> Iterator[Row]:
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


def failed_rows(path: Path, channel: str) -> list[Row]:
    """The rows of a receipts file with no delivered receipt, in row order.

    Two passes keep memory proportional to the failures: the first collects
    failed rows, the second drops every row delivered anywhere in the file (a
    file may hold several rounds, appended).
    """
    failed: dict[int, Row] = {}
    for _, line in _receipt_lines(path, channel):
        if not line["ok"]:
            row = line["row"]
            failed[row] = Row(row, line["to"], line.get("data") or {})
    if failed:
        for _, line in _receipt_lines(path, channel):
            if line["ok"]:
                failed.pop(line["row"], None)
    return [failed[number] for number in sorted(failed)]


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
    return line


class ReceiptLog:
    """Writes one JSON line per receipt; appends when asked (a retry into its own input)."""

    def __init__(self, path: Path, *, append: bool = False) -> None:
        self.path = path
        self._file = path.open("a" if append else "w", encoding="utf-8")

    def write(self, row: Row, receipt: Receipt) -> None:
        self._file.write(json.dumps(receipt_line(row, receipt), ensure_ascii=False) + "\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()
