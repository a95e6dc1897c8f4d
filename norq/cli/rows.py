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
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click

from norq._files import open_private
from norq.cli import UsageFailure
from norq.cli._common import bad_value
from norq.error_codes import UNCONFIRMED_CODES
from norq.ledger import EntryState, LedgerEntry
from norq.receipt import Receipt

#: The longest CSV cell, in characters: template data, not documents. It is
#: also the csv module's default field limit, so both stop at the same size.
MAX_CELL = 131_072
#: The longest physical line read at once, in bytes: room for a few cells at
#: the cap. Longer lines are refused without being read whole.
MAX_LINE = 1 << 20


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    to: str
    data: Mapping[str, Any] = field(default_factory=dict)


def rows_from_recipients(recipients: Sequence[str]) -> list[Row]:
    return [Row(number, to) for number, to in enumerate(recipients, start=1)]


def rows_from_csv(
    stream: IO[bytes], to_column: str, name: str, needs: Collection[str] = ()
) -> Iterator[Row]:
    """Stream the rows of a UTF-8 CSV file with a header line; the header is checked at once.

    ``needs`` are the template variables the rows must supply: a header
    without one of them is refused before any row is read, and so is a file
    whose columns are not separated by commas. Lines are decoded one at a time,
    so a byte that is not UTF-8 is reported with its row and line instead of
    somewhere in an 8 KB chunk.
    """
    source = _Utf8Lines(stream)
    reader = csv.DictReader(source)
    try:
        columns = reader.fieldnames
    except (_NotUtf8, _LineTooLong) as exc:
        raise bad_value("--csv", f"{name}: the header line {exc.why}") from None
    except csv.Error as exc:
        raise bad_value("--csv", f"{name}: the header line is not CSV ({exc})") from None
    if not columns:
        raise bad_value("--csv", f"{name} is empty; expected a header line")
    duplicated = sorted({column for column in columns if columns.count(column) > 1})
    if duplicated:
        raise bad_value(
            "--csv",
            f"{name}: the header names {', '.join(map(repr, duplicated))} more than once; "
            "each column needs its own name",
        )
    separator = _other_separator(columns)
    if separator is not None:
        raise bad_value(
            "--csv",
            f"{name}: the header is one column, {columns[0]!r}: the file separates its columns "
            f"with {separator}; Norq reads comma-separated files: save it as CSV with commas",
        )
    if to_column not in columns:
        raise bad_value(
            "--csv",
            f"{name} has no {to_column!r} column (columns: {', '.join(columns)}); "
            "name the recipient column with --to-column",
        )
    missing = sorted(set(needs).difference(columns))
    if missing:
        listed = ", ".join(map(repr, missing))
        raise bad_value(
            "--csv",
            f"{name}: the template needs {listed}, which the header does not name "
            f"(columns: {', '.join(columns)}); add the column to the file, or give the same "
            f"value to every row with --data {missing[0]}=VALUE",
        )
    return _csv_rows(reader, source, to_column, name)


_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _other_separator(columns: Sequence[str]) -> str | None:
    """How a file whose header read as one column separates its columns, if it does."""
    if len(columns) != 1:
        return None
    return next((word for mark, word in _SEPARATORS.items() if mark in columns[0]), None)


class _NotUtf8(Exception):
    def __init__(self, line: int, error: UnicodeDecodeError) -> None:
        bad = error.object[error.start : error.start + 1].hex()
        self.line = line
        self.why = (
            f"(line {line}) is not UTF-8: byte 0x{bad} at column {error.start + 1}; "
            "save the file as UTF-8"
        )


class _LineTooLong(Exception):
    def __init__(self, line: int) -> None:
        self.line = line
        self.why = (
            f"(line {line}) is longer than {MAX_LINE:,} bytes; a cell holds at most "
            f"{MAX_CELL:,} characters of template data"
        )


class _Utf8Lines:
    """The lines of a binary stream as text, decoded strictly one line at a time.

    A line is read with a size limit, so one without an end costs at most
    :data:`MAX_LINE` bytes before it is refused.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.line = 0

    def __iter__(self) -> _Utf8Lines:
        return self

    def __next__(self) -> str:
        raw = self._stream.readline(MAX_LINE + 1)
        if not raw:
            raise StopIteration
        self.line += 1
        if len(raw) > MAX_LINE:
            raise _LineTooLong(self.line)
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
            if any(len(value) > MAX_CELL for value in record.values() if value is not None):
                raise _CellTooLong(source.line)
            to = record.get(to_column) or ""
            # A short row has None for its missing cells: leave them out, so a
            # template needing one fails for this row alone with a clear error.
            data = {
                key: value
                for key, value in record.items()
                if key != to_column and key is not None and value is not None
            }
            yield Row(number, to.strip(), data)
    except _CellTooLong as exc:
        raise _cell_too_long(name, number, exc.line) from None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            # The csv module's own cap, met before the row is complete.
            raise _cell_too_long(name, number + 1, source.line) from None
        raise UsageFailure(
            f"{name}: malformed CSV after line {reader.line_num} ({exc}); "
            f"rows processed before it: {number}"
        ) from None
    except (_NotUtf8, _LineTooLong) as exc:
        raise UsageFailure(
            f"{name}: row {number + 1} {exc.why}; rows processed before it: {number}"
        ) from None


class _CellTooLong(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _cell_too_long(name: str, row: int, line: int) -> UsageFailure:
    return UsageFailure(
        f"{name}: row {row} (line {line}) has a cell longer than {MAX_CELL:,} characters "
        f"(cells hold template data: shorten it); rows processed before it: {row - 1}"
    )


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


#: How long before its receipt was written a request may have gone out: a timeout
#: and its retries. An unanswered row is looked up at the provider from then on.
RECEIPT_LAG = dt.timedelta(minutes=10)


def retry_entries(path: Path, channel: str) -> list[LedgerEntry]:
    """The rows of a receipts file with no delivered receipt, in row order, as a
    ledger would hold them: ``failed`` (``final`` if the last failure was), or
    ``unconfirmed`` when a send got no answer (timeout, lost connection,
    interrupted). A row any of whose sends went unanswered stays in doubt even if
    a later round failed it definitely. ``claimed_at`` is when its last
    unanswered request may have gone out, from the receipt's ``at``.

    Two passes keep memory proportional to the failures: the first collects
    failed rows, the second drops every row delivered anywhere in the file (a
    file may hold several rounds, appended).
    """
    last: dict[int, dict[str, Any]] = {}
    unanswered: dict[int, dict[str, Any]] = {}
    for _, line in _receipt_lines(path, channel):
        if not line["ok"]:
            row = line["row"]
            last[row] = line
            error = line.get("error") or {}
            if isinstance(error, dict) and error.get("code") in UNCONFIRMED_CODES:
                unanswered[row] = line
    if last:
        for _, line in _receipt_lines(path, channel):
            if line["ok"]:
                last.pop(line["row"], None)
    return [_entry(last[row], unanswered.get(row)) for row in sorted(last)]


def _entry(line: dict[str, Any], unanswered: dict[str, Any] | None) -> LedgerEntry:
    error = line.get("error") or {}
    code = error.get("code") if isinstance(error, dict) else None
    last_unanswered = code in UNCONFIRMED_CODES
    final = not last_unanswered and isinstance(error, dict) and error.get("disposition") == "final"
    sent_at = _when(unanswered.get("at")) if unanswered is not None else None
    return LedgerEntry(
        row=line["row"],
        to=line["to"],
        state=EntryState.UNCONFIRMED if last_unanswered else EntryState.FAILED,
        data=line.get("data") or {},
        provider=(unanswered or line).get("provider"),
        error_code=code,
        sends=1,
        doubtful=unanswered is not None and not last_unanswered,
        final=final,
        claimed_at=sent_at - RECEIPT_LAG if sent_at is not None else None,
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


def receipts_file_line(row: Row, receipt: Receipt) -> str:
    """A receipts-file line: JSON, UTF-8, with the line and paragraph separators
    (U+2028, U+2029) escaped so that no reader splitting on Unicode line breaks
    cuts a receipt in two."""
    text = json.dumps(receipt_line(row, receipt), ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


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

    A new file is created readable by its owner only: it lists recipients and their data.

    Line-buffered: a receipt is in the file as soon as it is written, so a run
    that is stopped or killed loses none of the receipts it already had.
    """

    def __init__(self, path: Path, *, append: bool = False) -> None:
        self.path = path
        self._file = open_private(path, append=append, buffering=1)

    def write(self, row: Row, receipt: Receipt) -> None:
        self._file.write(receipts_file_line(row, receipt))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()
