"""Progress of a bulk send: a rich bar on a terminal, plain periodic lines otherwise,
and the summary table printed at the end.

rich is imported only when a bar is actually drawn.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from norq.bulk import BulkTally

EXAMPLE_WIDTH = 70


def summary_table(tally: BulkTally, elapsed: float) -> str:
    """The end-of-run table: one line per way a row ended, adding up to the rows read,
    then the notes on some of them."""
    rate = tally.sent / elapsed if elapsed > 0 else 0.0
    rows = [("delivered", f"{tally.delivered:,}", "")]
    for code, count in sorted(tally.by_code.items(), key=lambda item: (-item[1], item[0])):
        rows.append((f"failed: {code}", f"{count:,}", _shorten(tally.examples.get(code, ""))))
    settled = [
        ("found at provider", tally.found_at_provider, "an unanswered send had arrived"),
        ("skipped: accepted earlier", tally.skipped_accepted, "not sent again"),
        ("skipped: failed for good", tally.skipped_final, "--retry-final sends them"),
        ("skipped: unconfirmed", tally.skipped_unconfirmed, "--resend-unconfirmed sends them"),
        ("skipped: held elsewhere", tally.held_elsewhere, "another sender has them"),
    ]
    rows.extend((label, f"{count:,}", note) for label, count, note in settled if count)
    rows.append(("total", f"{tally.rows:,}", f"{_duration(elapsed)}, {rate:,.0f} sent/s"))
    notes = [
        ("not at provider", tally.missing_at_provider, "an unanswered send had not; sent now"),
        ("may be duplicates", tally.may_duplicate, "re-sent after an unanswered send"),
        ("taken over", tally.taken_over, "another sender took them over"),
    ]
    rows.extend((label, f"{count:,}", note) for label, count, note in notes if count)
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
    def update(self, tally: BulkTally) -> None: ...

    def close(self, tally: BulkTally) -> None: ...


class NoProgress:
    def update(self, tally: BulkTally) -> None:
        pass

    def close(self, tally: BulkTally) -> None:
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

    def update(self, tally: BulkTally) -> None:
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            self._write(tally, now)

    def close(self, tally: BulkTally) -> None:
        self._write(tally, self._clock())

    def _write(self, tally: BulkTally, now: float) -> None:
        elapsed = now - self._started
        rate = tally.sent / elapsed if elapsed > 0 else 0.0
        if self._total:
            shown = f"{tally.rows:,}/{self._total:,} rows ({100 * tally.rows // self._total}%)"
        else:
            shown = f"{tally.rows:,} rows"
        parts = [shown, f"{tally.failed:,} failed", f"{rate:,.0f}/s"]
        if self._total and rate > 0 and tally.rows < self._total:
            parts.append(f"ETA {_duration((self._total - tally.rows) / rate)}")
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

    def update(self, tally: BulkTally) -> None:
        # rich redraws ten times a second; feeding it every receipt costs more than that.
        now = time.monotonic()
        if now >= self._next:
            self._next = now + 0.05
            self._progress.update(self._task, completed=tally.rows, failed=tally.failed)

    def close(self, tally: BulkTally) -> None:
        # An estimated total (lines, not CSV records) is corrected at the end.
        self._progress.update(
            self._task, completed=tally.rows, total=tally.rows, failed=tally.failed
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
