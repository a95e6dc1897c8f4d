"""Run every benchmark, print the results as ratios and a PASS/FAIL line per target.

Contenders of one section run interleaved (A B C, A B C, ...) for several
rounds against one fake server, and each is reported by its median, so a
slow moment of the machine hits every contender alike.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib.util import find_spec
from pathlib import Path
from typing import TypeVar

from benchmarks import contenders as c

CI = bool(os.environ.get("CI"))
T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    rounds: int
    sync_n: int
    async_n: int
    slow_async_n: int
    build_n: int
    cli_runs: int
    rss_small: int
    rss_large: int


FULL = Profile(
    # Nine rounds: on a shared 2-core machine one run of a contender can lose
    # 10-30 % to work outside the benchmark, and the median of nine same-round
    # ratios rides that out where five did not.
    rounds=9,
    sync_n=1500,
    async_n=6000,
    slow_async_n=600,
    # ~0.6 s per round, about as long as a send round, so both sample the
    # machine's noise over the same stretch of time.
    build_n=100_000,
    cli_runs=7,
    rss_small=10_000,
    rss_large=1_000_000,
)
QUICK = Profile(
    rounds=1,
    sync_n=20,
    async_n=40,
    slow_async_n=20,
    build_n=200,
    cli_runs=1,
    rss_small=200,
    rss_large=2_000,
)


@dataclass
class Results:
    rates: dict[str, float] = field(default_factory=dict)  # messages per second
    samples: dict[str, list[float]] = field(default_factory=dict)  # per round, same order
    seconds: dict[str, float] = field(default_factory=dict)  # wall time
    rss_kib: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    verdicts: list[tuple[bool, str]] = field(default_factory=list)


def say(text: str = "") -> None:
    print(text, flush=True)


# -- the fake server ---------------------------------------------------------------


@contextmanager
def fake_twilio(latency_ms: float, max_seconds: float) -> Iterator[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.fake_twilio",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--max-seconds",
            str(max_seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2 or line[0] != "LISTENING":
            raise RuntimeError(f"the fake server did not start: {line!r}")
        yield f"http://127.0.0.1:{line[1]}"
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- throughput ---------------------------------------------------------------------


def installed(*modules: str) -> bool:
    return all(find_spec(name) is not None for name in modules)


def missing(results: Results, name: str, modules: Sequence[str]) -> bool:
    """True (and recorded) when a contender's library is absent; in CI that is an error."""
    if installed(*modules):
        return False
    if CI:
        raise RuntimeError(f"{name} needs {', '.join(modules)}: install the bench extra")
    results.skipped[name] = f"not installed: {', '.join(modules)}"
    return True


def rotated(items: Sequence[T], round_number: int) -> list[T]:
    """Each round starts with the next contender, so no one always runs first or last."""
    shift = round_number % len(items)
    return [*items[shift:], *items[:shift]]


def bench_sync(base: str, profile: Profile, results: Results) -> None:
    chosen: list[c.SyncContender] = [c.NorqSync()]
    if not missing(results, c.HttpxSync.name, ["httpx"]):
        chosen.append(c.HttpxSync())
    if not missing(results, c.TwilioSync.name, ["twilio"]):
        chosen.append(c.TwilioSync())
    samples: dict[str, list[float]] = {x.name: [] for x in chosen}
    for contender in chosen:
        contender.setup(base)
        contender.run(max(10, profile.sync_n // 10))  # warm up: connect, import, caches
    try:
        for round_number in range(profile.rounds):
            for contender in rotated(chosen, round_number):
                started = time.perf_counter()
                contender.run(profile.sync_n)
                samples[contender.name].append(profile.sync_n / (time.perf_counter() - started))
    finally:
        for contender in chosen:
            contender.close()
    for name, rates in samples.items():
        results.rates[name] = statistics.median(rates)
        results.samples[name] = rates


NORQ_CONCURRENCY = (1, 16, 64, 256)


def bench_async(
    base: str,
    profile: Profile,
    results: Results,
    *,
    sends: bool,
    build: bool,
    freeze: bool = True,
    latency_ms: float = 0.0,
) -> None:
    """The async sends and the pure build loop, interleaved in the same rounds."""
    chosen: list[tuple[c.AsyncContender, int]] = []
    if latency_ms:
        # With a fixed answer delay a run is bound by round trips per worker:
        # keep each worker to ~50 of them so a round stays short.
        profile = replace(profile, async_n=64 * 50, slow_async_n=64 * 50)
    if build:
        chosen.append((c.BuildOnly(1), profile.build_n))
    if sends:
        chosen += [
            (c.NorqAsync(conc), min(profile.async_n, conc * 50) if latency_ms else profile.async_n)
            for conc in NORQ_CONCURRENCY
        ]
    if sends and not missing(results, "raw aiohttp", ["aiohttp"]):
        chosen += [(c.AiohttpAsync(16), profile.async_n), (c.AiohttpAsync(64), profile.async_n)]
    if sends and not missing(results, "twilio async", ["twilio", "aiohttp", "aiohttp_retry"]):
        chosen.append((c.TwilioAsync(64), profile.async_n))
    if sends and not missing(results, "httpx.AsyncClient", ["httpx"]):
        chosen.append((c.HttpxAsync(64), profile.slow_async_n))
    samples: dict[str, list[float]] = {x.name: [] for x, _ in chosen}

    async def main() -> None:
        for contender, n in chosen:
            await contender.setup(base)
            await contender.run(max(contender.concurrency, n // 10))
        if freeze:
            # This process holds every contender's libraries; an application
            # holds one. Freezing the start-up heap keeps full collections,
            # which high concurrency triggers, from rescanning all of it.
            gc.collect()
            gc.freeze()
        try:
            for round_number in range(profile.rounds):
                for contender, n in rotated(chosen, round_number):
                    started = time.perf_counter()
                    await contender.run(n)
                    samples[contender.name].append(n / (time.perf_counter() - started))
        finally:
            gc.unfreeze()
            for contender, _ in chosen:
                await contender.close()

    asyncio.run(main())
    for name, rates in samples.items():
        results.rates[name] = statistics.median(rates)
        results.samples[name] = rates


# -- CLI start-up --------------------------------------------------------------------

DRY_RUN_CONFIG = """\
providers:
  twilio:
    config:
      account_sid: AC00000000000000000000000000000000
      api_key_sid: SK11111111111111111111111111111111
      api_key_secret: benchmark-secret
      from: "+15005550006"
routing:
  sms: twilio
"""


def cli_commands(workdir: Path) -> dict[str, list[str] | None]:
    bindir = Path(sys.executable).parent
    config = workdir / "norq.yaml"
    config.write_text(DRY_RUN_CONFIG, encoding="utf-8")

    def tool(name: str) -> str | None:
        found = bindir / name
        return str(found) if found.exists() else shutil.which(name)

    norq, apprise = tool("norq"), tool("apprise")
    return {
        "norq --version": [norq, "--version"] if norq else None,
        "norq --help": [norq, "--help"] if norq else None,
        "norq send --dry-run": [
            norq,
            "send",
            "sms",
            "--to",
            "+15551234567",
            "--body",
            "hello",
            "--dry-run",
            "--config",
            str(config),
        ]
        if norq
        else None,
        "apprise --version": [apprise, "--version"] if apprise else None,
        "python -c 'from twilio.rest import Client'": [
            sys.executable,
            "-c",
            "from twilio.rest import Client",
        ]
        if installed("twilio")
        else None,
    }


def bench_cli(profile: Profile, results: Results) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        commands = cli_commands(Path(workdir))
        runnable = {}
        for name, argv in commands.items():
            if argv is None:
                if CI:
                    raise RuntimeError(f"{name}: command not installed")
                results.skipped[name] = "not installed"
            else:
                runnable[name] = argv
        samples: dict[str, list[float]] = {name: [] for name in runnable}
        # As on an installed machine, modules load from .pyc files: the warm-up run
        # writes them even where PYTHONDONTWRITEBYTECODE is set (this sandbox sets it).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        for argv in runnable.values():  # warm the file cache and .pyc files
            subprocess.run(argv, capture_output=True, cwd=workdir, env=env, timeout=60)
        for _ in range(profile.cli_runs):
            for name, argv in runnable.items():
                started = time.perf_counter()
                done = subprocess.run(argv, capture_output=True, cwd=workdir, env=env, timeout=60)
                samples[name].append(time.perf_counter() - started)
                if done.returncode != 0:
                    raise RuntimeError(
                        f"{name} exited {done.returncode}: {done.stderr.decode()[-500:]}"
                    )
        for name, times in samples.items():
            results.seconds[name] = statistics.median(times)
            results.samples[name] = times


# -- peak memory -------------------------------------------------------------------


def rss_key(source: str, count: int) -> str:
    return f"bulk {count:,} from {source}"


def bench_rss(profile: Profile, results: Results) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        csv_files = {}
        for count in (profile.rss_small, profile.rss_large):
            path = Path(workdir) / f"recipients-{count}.csv"
            from benchmarks.bulk_rss import write_csv

            write_csv(str(path), count)
            csv_files[count] = path
        for count in (profile.rss_small, profile.rss_large):
            for source in ("generator", "csv"):
                argv = [
                    sys.executable,
                    "-m",
                    "benchmarks.bulk_rss",
                    "--count",
                    str(count),
                    "--source",
                    source,
                    "--csv",
                    str(csv_files[count]),
                ]
                done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
                if done.returncode != 0:
                    raise RuntimeError(f"bulk_rss failed: {done.stderr[-1000:]}")
                report = json.loads(done.stdout)
                if report["ok"] != count:
                    raise RuntimeError(f"bulk_rss delivered {report['ok']} of {count}")
                results.rss_kib[rss_key(source, count)] = report["maxrss_kib"]
                results.seconds[rss_key(source, count)] = report["seconds"]


# -- report -------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("norq", "httpx", "aiohttp", "twilio", "apprise"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} -")
    return ", ".join(found)


@dataclass(frozen=True)
class Target:
    """A ratio between two contenders measured in the same rounds, and its bound."""

    label: str
    top: str
    bottom: str
    ratio: float
    at_most: bool = False
    sections: tuple[str, ...] = ()


N64 = "norq anotify_many conc 64"
TARGETS = (
    Target("async conc 64 vs twilio async", N64, c.TwilioAsync(64).name, 1.0, sections=("async",)),
    Target("async conc 64 vs raw aiohttp", N64, c.AiohttpAsync(64).name, 0.9, sections=("async",)),
    Target(
        "async conc 256 vs conc 16 (no drop)",
        "norq anotify_many conc 256",
        "norq anotify_many conc 16",
        0.95,
        sections=("async",),
    ),
    Target(
        "sync loop vs raw httpx.Client", c.NorqSync.name, c.HttpxSync.name, 0.9, sections=("sync",)
    ),
    Target("sync loop vs twilio sync", c.NorqSync.name, c.TwilioSync.name, 1.3, sections=("sync",)),
    Target(
        "build rate vs raw aiohttp send rate (conc 64)",
        c.BuildOnly.name,
        c.AiohttpAsync(64).name,
        20.0,
        sections=("async", "build"),
    ),
    Target(
        "norq --version vs apprise --version",
        "norq --version",
        "apprise --version",
        0.5,
        at_most=True,
        sections=("cli",),
    ),
    Target(
        "norq --help vs apprise --version",
        "norq --help",
        "apprise --version",
        0.5,
        at_most=True,
        sections=("cli",),
    ),
    # A dry run validates the config with pydantic, the stack the design names
    # (docs/performance.md says what that costs).
    Target(
        "norq send --dry-run vs apprise --version",
        "norq send --dry-run",
        "apprise --version",
        1.5,
        at_most=True,
        sections=("cli",),
    ),
)
RSS_RATIO = 1.2  # peak memory of the large bulk run against the small one


def judge(
    results: Results, label: str, value: float | None, target: float, *, at_most: bool = False
) -> None:
    if value is None:
        results.verdicts.append((False, f"SKIP  {label}: a contender was not run"))
        return
    ok = value <= target if at_most else value >= target
    sign = "≤" if at_most else "≥"
    results.verdicts.append(
        (ok, f"{'PASS' if ok else 'FAIL'}  {label}: {value:.2f}× ({sign} {target}×)")
    )


def paired(results: Results, top: str, bottom: str) -> float | None:
    """The median over rounds of top/bottom measured in the same round.

    Contenders of a round run back to back, so a burst of load from outside
    the benchmark hits both sides of a pair; that makes this steadier than
    the ratio of the two medians on a shared machine.
    """
    a, b = results.samples.get(top), results.samples.get(bottom)
    if not a or not b or len(a) != len(b):
        return None
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def verdicts(
    results: Results, sections: Sequence[str], ratios: Mapping[str, float] | None = None
) -> None:
    """Judge every target whose sections ran; ``ratios`` overrides bounds by label."""
    ratios = ratios or {}
    for target in TARGETS:
        if set(target.sections) <= set(sections):
            value = paired(results, target.top, target.bottom)
            bound = ratios.get(target.label, target.ratio)
            judge(results, target.label, value, bound, at_most=target.at_most)
    sizes = sorted({int(k.split()[1].replace(",", "")) for k in results.rss_kib})
    if "rss" in sections and len(sizes) == 2:
        for source in ("generator", "csv"):
            small = results.rss_kib.get(rss_key(source, sizes[0]))
            large = results.rss_kib.get(rss_key(source, sizes[1]))
            label = f"peak RSS {sizes[1]:,} vs {sizes[0]:,} recipients ({source})"
            judge(
                results,
                label,
                large / small if large and small else None,
                ratios.get(label, RSS_RATIO),
                at_most=True,
            )


def target_labels() -> list[str]:
    return [target.label for target in TARGETS]


def report(results: Results) -> None:
    say()
    say(f"Machine: {machine()}")
    say(f"Versions: {versions()}")
    groups: list[tuple[str, Callable[[str], bool], str]] = [
        ("Sync, one message at a time", lambda k: "conc" not in k and "build" not in k, ""),
        ("Async bulk", lambda k: "conc" in k and "build" not in k, ""),
        ("Pure build, no I/O", lambda k: "build" in k, ""),
    ]
    baseline_sync = results.rates.get(c.HttpxSync.name)
    baseline_async = results.rates.get(c.AiohttpAsync(64).name)
    for title, belongs, _ in groups:
        rows = [(k, v) for k, v in results.rates.items() if belongs(k)]
        if not rows:
            continue
        base = baseline_sync if title.startswith("Sync") else baseline_async
        base_name = "raw httpx.Client" if title.startswith("Sync") else "raw aiohttp conc 64"
        say()
        say(f"{title}  (msg/s, ratio to {base_name})")
        for name, value in rows:
            r = f"{value / base:6.2f}×" if base else "     -"
            say(f"  {name:<48} {value:>10,.0f}  {r}")
    cli = {k: v for k, v in results.seconds.items() if not k.startswith("bulk")}
    if cli:
        apprise = cli.get("apprise --version")
        say()
        say("CLI wall time  (median ms, ratio to apprise --version)")
        for name, value in cli.items():
            r = f"{value / apprise:6.2f}×" if apprise else "     -"
            say(f"  {name:<48} {value * 1000:>10.0f}  {r}")
    if results.rss_kib:
        say()
        say("Bulk peak RSS  (MiB, seconds)")
        for name, kib in results.rss_kib.items():
            say(f"  {name:<48} {kib / 1024:>10.1f}  {results.seconds[name]:6.1f}s")
    for name, why in results.skipped.items():
        say(f"  skipped {name}: {why}")
    say()
    say("Targets")
    for _, line in results.verdicts:
        say(f"  {line}")


def markdown(results: Results, rounds: int) -> str:
    """The results as docs/performance.md's "Results" section shows them, ready to paste."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"Measured {when} by `python -m benchmarks` ({rounds} rounds) on {machine()}; "
        f"load average {load} when it ended; {versions()}.",
    ]
    sync_base = results.rates.get(c.HttpxSync.name)
    async_base = results.rates.get(c.AiohttpAsync(64).name)
    tables = [
        (
            "sync, one message at a time",
            "vs raw `httpx.Client`",
            sync_base,
            lambda k: "conc" not in k and "build" not in k,
        ),
        ("async bulk", "vs raw aiohttp conc 64", async_base, lambda k: "conc" in k or "build" in k),
    ]
    for title, versus, base, belongs in tables:
        rows = [(name, rate) for name, rate in results.rates.items() if belongs(name)]
        if not rows:
            continue
        lines += [
            "",
            f"| {title} | msg/s (median) | rounds min–max | {versus} |",
            "|---|---:|---:|---:|",
        ]
        for name, rate in rows:
            low, high = min(results.samples[name]), max(results.samples[name])
            ratio = f"{rate / base:.2f}×" if base else "–"
            lines.append(f"| {name} | {rate:,.0f} | {low:,.0f}–{high:,.0f} | {ratio} |")
    cli = {k: v for k, v in results.seconds.items() if not k.startswith("bulk")}
    if cli:
        apprise = cli.get("apprise --version")
        lines += ["", "| CLI wall time | ms (median) | vs `apprise --version` |", "|---|---:|---:|"]
        for name, seconds in cli.items():
            ratio = f"{seconds / apprise:.2f}×" if apprise else "–"
            lines.append(f"| `{name}` | {seconds * 1000:,.0f} | {ratio} |")
    if results.rss_kib:
        lines += [
            "",
            "| bulk `anotify_many`, console provider to /dev/null | peak RSS MiB | seconds |",
            "|---|---:|---:|",
        ]
        for name, kib in results.rss_kib.items():
            lines.append(f"| {name} | {kib / 1024:.1f} | {results.seconds[name]:.1f} |")
    lines += ["", "```", *(line for _, line in results.verdicts), "```"]
    return "\n".join(lines) + "\n"


SECTIONS = ("sync", "async", "build", "cli", "rss")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny counts, one round (smoke test)")
    parser.add_argument("--rounds", type=int, help="rounds per section (default 9, quick 1)")
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only this section; repeatable"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="fixed delay of every fake-server answer"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        help="also write the results as the tables of docs/performance.md's Results section",
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="LABEL=RATIO",
        help="judge a target against another ratio (its label as the report prints it); repeatable",
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="do not gc.freeze() the start-up heap before the async rounds",
    )
    args = parser.parse_args(argv)
    ratios = _target_ratios(parser, args.target)
    # A terminated run still stops its fake server (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    profile = QUICK if args.quick else FULL
    if args.rounds:
        profile = Profile(**{**profile.__dict__, "rounds": args.rounds})
    sections = args.only or list(SECTIONS)
    results = Results()
    started = time.perf_counter()
    # An hour bounds the fake server's life: a full run on a busy 2-core machine
    # has taken more than the twenty minutes it was given before.
    with fake_twilio(args.latency_ms, max_seconds=3600) as base:
        say(f"fake Twilio at {base}; {profile.rounds} round(s); sections: {', '.join(sections)}")
        if "sync" in sections:
            say("… sync")
            bench_sync(base, profile, results)
        if "async" in sections or "build" in sections:
            say("… async and build")
            bench_async(
                base,
                profile,
                results,
                sends="async" in sections,
                build="build" in sections,
                freeze=not args.no_gc_freeze,
                latency_ms=args.latency_ms,
            )
    if "cli" in sections:
        say("… cli")
        bench_cli(profile, results)
    if "rss" in sections:
        say("… rss")
        bench_rss(profile, results)
    verdicts(results, sections, ratios)
    report(results)
    say(f"\n{len(sections)} section(s) in {time.perf_counter() - started:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(results.__dict__, indent=2, default=list))
    if args.markdown:
        Path(args.markdown).write_text(markdown(results, profile.rounds), "utf-8")
    failed = [line for ok, line in results.verdicts if not ok]
    if failed:
        say(f"{len(failed)} of {len(results.verdicts)} targets not met")
    return 1 if failed else 0


def _target_ratios(parser: argparse.ArgumentParser, given: Sequence[str]) -> dict[str, float]:
    ratios = {}
    for text in given:
        label, _, ratio = text.rpartition("=")
        if label not in target_labels() and not label.startswith("peak RSS"):
            parser.error(f"--target {text!r}: no target is called {label!r}")
        try:
            ratios[label] = float(ratio)
        except ValueError:
            parser.error(f"--target {text!r}: {ratio!r} is not a number")
    return ratios
