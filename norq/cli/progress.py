"""Progress of a bulk send: a rich bar on a terminal, plain periodic lines otherwise,
and the summary table printed at the end.

rich is imported only when a bar is actually drawn.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from norq.receipt import Receipt

EXAMPLE_WIDTH = 70


@dataclass
class Tally:
    """Counts of a bulk send: delivered, and failed by normalised error code.

    A resumed run or a retry also counts the rows it did not send (accepted
    earlier, or unanswered earlier and not to be re-sent), what the provider
    said about unanswered rows, and the rows re-sent although an earlier send
    may have arrived (``may_duplicate``).
    """

    delivered: int = 0
    failed: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)
    skipped_accepted: int = 0
    skipped_unconfirmed: int = 0
    resolved_found: int = 0
    resolved_missing: int = 0
    may_duplicate: int = 0

    @property
    def done(self) -> int:
        return self.delivered + self.failed

    @property
    def read(self) -> int:
        """Rows dealt with, sent or skipped: how far through the input the run is."""
        return self.done + self.skipped_accepted + self.skipped_unconfirmed

    def add(self, row_number: int, receipt: Receipt) -> None:
        if receipt.ok:
            self.delivered += 1
            return
        self.failed += 1
        code = receipt.error.code if receipt.error else "unknown"
        self.by_code[code] = self.by_code.get(code, 0) + 1
        if code not in self.examples:
            message = receipt.error.message if receipt.error else "failed"
            self.examples[code] = f"row {row_number}: {message}"

    def skip(self, previous: str | None) -> None:
        """A row not sent: ``previous`` is its state in the journal."""
        if previous == "accepted":
            self.skipped_accepted += 1
        else:
            self.skipped_unconfirmed += 1

    def as_dict(self, elapsed: float) -> dict[str, Any]:
        return {
            "rows": self.done,
            "delivered": self.delivered,
            "failed": self.failed,
            "failed_by_code": dict(sorted(self.by_code.items())),
            "skipped_accepted": self.skipped_accepted,
            "skipped_unconfirmed": self.skipped_unconfirmed,
            "found_at_provider": self.resolved_found,
            "missing_at_provider": self.resolved_missing,
            "may_duplicate": self.may_duplicate,
            "seconds": round(elapsed, 3),
        }


def summary_table(tally: Tally, elapsed: float) -> str:
    """The end-of-run table: delivered, then each failure code with an example."""
    rate = tally.done / elapsed if elapsed > 0 else 0.0
    rows = [("delivered", f"{tally.delivered:,}", "")]
    for code, count in sorted(tally.by_code.items(), key=lambda item: (-item[1], item[0])):
        rows.append((f"failed: {code}", f"{count:,}", _shorten(tally.examples.get(code, ""))))
    notes = [
        ("skipped: accepted earlier", tally.skipped_accepted, "not sent again"),
        ("skipped: unconfirmed", tally.skipped_unconfirmed, "--resend-unconfirmed sends them"),
        ("found at provider", tally.resolved_found, "an unanswered send had arrived"),
        ("not at provider", tally.resolved_missing, "an unanswered send had not; sent now"),
        ("may be duplicates", tally.may_duplicate, "re-sent after an unanswered send"),
    ]
    rows.extend((label, f"{count:,}", note) for label, count, note in notes if count)
    rows.append(("total", f"{tally.done:,}", f"{_duration(elapsed)}, {rate:,.0f}/s"))
    width = max(len(label) for label, _, _ in rows)
    digits = max(len(count) for _, count, _ in rows)
    lines = [f"{label:<{width}}  {count:>{digits}}  {note}".rstrip() for label, count, note in rows]
    return "\n".join(lines)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXAMPLE_WIDTH else text[: EXAMPLE_WIDTH - 1] + "…"


def _duration(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds)))


class Progress(Protocol):
    def update(self, tally: Tally) -> None: ...

    def close(self, tally: Tally) -> None: ...


class NoProgress:
    def update(self, tally: Tally) -> None:
        pass

    def close(self, tally: Tally) -> None:
        pass


class LineProgress:
    """One plain line every ``interval`` seconds, for logs and pipes."""

    def __init__(
        self,
        stream: IO[str],
        total: int | None,
        *,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._total = total
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last = self._started

    def update(self, tally: Tally) -> None:
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            self._write(tally, now)

    def close(self, tally: Tally) -> None:
        self._write(tally, self._clock())

    def _write(self, tally: Tally, now: float) -> None:
        elapsed = now - self._started
        rate = tally.done / elapsed if elapsed > 0 else 0.0
        if self._total:
            shown = f"{tally.read:,}/{self._total:,} rows ({100 * tally.read // self._total}%)"
        else:
            shown = f"{tally.read:,} rows"
        parts = [shown, f"{tally.failed:,} failed", f"{rate:,.0f}/s"]
        if self._total and rate > 0 and tally.read < self._total:
            parts.append(f"ETA {_duration((self._total - tally.read) / rate)}")
        self._stream.write("norq: " + ", ".join(parts) + "\n")
        self._stream.flush()


class BarProgress:
    """A rich progress bar with rate and ETA; ``total`` may be an estimate or unknown."""

    def __init__(self, stream: IO[str], total: int | None, *, force_terminal: bool = False):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(file=stream, force_terminal=force_terminal or None)
        self._progress = Progress(
            TextColumn("sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            _rate_column(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self._task = self._progress.add_task("send", total=total, failed=0)
        self._progress.start()
        self._next = 0.0

    def update(self, tally: Tally) -> None:
        # rich redraws ten times a second; feeding it every receipt costs more than that.
        now = time.monotonic()
        if now >= self._next:
            self._next = now + 0.05
            self._progress.update(self._task, completed=tally.read, failed=tally.failed)

    def close(self, tally: Tally) -> None:
        # An estimated total (lines, not CSV records) is corrected at the end.
        self._progress.update(
            self._task, completed=tally.read, total=tally.read, failed=tally.failed
        )
        self._progress.stop()


def _rate_column() -> Any:
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Rows per second."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f}/s" if speed else "–/s")

    return RateColumn()


def make_progress(mode: str, stream: IO[str], total: int | None) -> Progress:
    """``auto`` draws a bar on a terminal and prints lines otherwise."""
    if mode == "none":
        return NoProgress()
    if mode == "bar" or (mode == "auto" and stream.isatty()):
        return BarProgress(stream, total, force_terminal=mode == "bar")
    return LineProgress(stream, total)
