"""The benchmark suite still runs end to end (``--quick``: tiny counts, no timing asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.e2e

# A line of the report, and the libraries its contender needs (the `bench` extra).
LINES = {
    "norq notify() loop": (),
    "raw httpx.Client": ("httpx",),
    "twilio sync (messages.create)": ("twilio",),
    "norq anotify_many conc 1 ": (),
    "norq anotify_many conc 16": (),
    "norq anotify_many conc 64": (),
    "norq anotify_many conc 256": (),
    "raw aiohttp conc 64": ("aiohttp",),
    "twilio async (create_async) conc 64": ("twilio", "aiohttp"),
    "httpx.AsyncClient conc 64": ("httpx",),
    "norq build": (),
    "norq --version": (),
    "norq --help": (),
    "norq send --dry-run": (),
    "apprise --version": ("apprise",),
    "from twilio.rest import Client": ("twilio",),
    "from generator": (),
    "from csv": (),
}


def installed(modules: tuple[str, ...]) -> bool:
    return all(find_spec(name) is not None for name in modules)


def test_quick_benchmark_prints_every_contender_and_target() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    out = done.stdout
    for line, modules in LINES.items():
        # Outside CI a missing contender is reported as skipped; in CI the suite fails.
        if installed(modules) or os.environ.get("CI"):
            assert line in out, f"missing {line!r} in:\n{out}"
    targets = out.split("\nTargets\n", 1)[1]
    verdicts = [row.split()[0] for row in targets.splitlines() if row.strip()]
    verdicts = [word for word in verdicts if word in {"PASS", "FAIL", "SKIP"}]
    assert len(verdicts) == 11, targets
    # Tiny counts judge nothing about speed, but the exit status must follow the verdicts.
    assert done.returncode == (0 if set(verdicts) == {"PASS"} else 1), targets


CLI_TARGETS = (
    "norq --version vs apprise --version",
    "norq --help vs apprise --version",
    "norq send --dry-run vs apprise --version",
)


def start_up_targets(*targets: str) -> subprocess.CompletedProcess[str]:
    """The start-up section alone (a few seconds), judged against the given bounds."""
    options = [option for target in targets for option in ("--target", target)]
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "cli", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_target_that_cannot_be_met_makes_the_run_exit_1() -> None:
    done = start_up_targets(*(f"{label}=1000" for label in CLI_TARGETS[1:]), f"{CLI_TARGETS[0]}=0")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"FAIL  {CLI_TARGETS[0]}: " in done.stdout
    assert "1 of 3 targets not met" in done.stdout


def test_targets_that_are_met_make_the_run_exit_0() -> None:
    done = start_up_targets(*(f"{label}=1000" for label in CLI_TARGETS))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.count("PASS  ") == 3


def test_an_unknown_target_is_refused() -> None:
    done = start_up_targets("norq --versio vs apprise --version=1")
    assert done.returncode == 2
    assert "no target is called 'norq --versio vs apprise --version'" in done.stderr
