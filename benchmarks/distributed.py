"""Jobs on Celery workers: throughput, and goodput under a provider's enforced limit.

``python -m benchmarks.distributed [--messages 20000] [--limited 3000] [--rate 300]``

1. Throughput: a job of ``--messages`` recipients to the fast fake Twilio
   (``benchmarks.fake_twilio``), with 1 and then 2 ``norq worker`` processes
   (``--concurrency`` each), timed from the first enqueue to the last receipt.
2. Goodput under a limit: a ``norq sandbox`` enforcing ``--rate`` requests a
   second (429 / 20429 past it); ``--limited`` recipients sent by in-process
   ``anotify_many`` without and with ``rate_limits.requests_per_second`` set to
   the same rate, then by 2 Celery workers with it. Goodput is delivered
   messages per second as a fraction of the allowed rate; 429s are counted by
   the sandbox.

Redis is a private ``redis-server`` on a free loopback port; every process the
benchmark starts is stopped by its PID. Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import redis
import yaml
from norq_sandbox import DEFAULT_ACCOUNT_SID, DEFAULT_API_KEY_SECRET, DEFAULT_API_KEY_SID

from benchmarks.contenders import recipient
from norq import Norq
from tests.jobs.redis_server import RedisServer, free_port
from tests.jobs.workers import Worker


def config(path: Path, base_url: str, redis_url: str | None, rate_limits: dict[str, Any]) -> Path:
    twilio: dict[str, Any] = {
        "type": "twilio",
        "config": {
            "account_sid": DEFAULT_ACCOUNT_SID,
            "api_key_sid": DEFAULT_API_KEY_SID,
            "api_key_secret": DEFAULT_API_KEY_SECRET,
            "from": "+15005550006",
            "base_url": base_url,
        },
        # Goodput counts first answers: a 429 is not retried into a success.
        "retry": {"max_retries": 0},
        "rate_limits": rate_limits,
    }
    document: dict[str, Any] = {"providers": {"twilio": twilio}, "routing": {"sms": "twilio"}}
    if redis_url is not None:
        document["celery"] = {"broker_url": redis_url, "chunk_size": 100}
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


def wait_for_receipts(redis_url: str, job_id: str, count: int, timeout: float) -> None:
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while client.hlen(f"norq:job:{job_id}:receipts") < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} did not finish in {timeout}s")
            time.sleep(0.05)
    finally:
        client.close()


def run_job(
    cfg: Path, redis_url: str, workdir: Path, workers: int, count: int, concurrency: int
) -> tuple[float, dict[str, Any]]:
    """Seconds from the first enqueue to the last receipt, and the job's status."""
    started = [Worker(cfg, workdir / f"w{n}.log", concurrency) for n in range(workers)]
    try:
        time.sleep(3)  # let the workers connect before the clock starts
        with Norq.from_yaml(cfg) as norq:
            began = time.perf_counter()
            job_id = norq.enqueue_many("sms", (recipient(i) for i in range(count)), body="bench")
            wait_for_receipts(redis_url, job_id, count, timeout=600)
            elapsed = time.perf_counter() - began
            return elapsed, norq.job(job_id).to_dict()
    finally:
        for worker in started:
            worker.stop()


class Process:
    """A server subprocess, stopped by PID."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def fake_twilio() -> tuple[Process, str]:
    server = Process([sys.executable, "-m", "benchmarks.fake_twilio", "--port", "0"])
    assert server.process.stdout is not None
    line = server.process.stdout.readline().split()
    return server, f"http://127.0.0.1:{line[1]}"


def sandbox(rate: float) -> tuple[Process, str]:
    port = free_port()
    server = Process(
        [
            sys.executable, "-c", "from norq.cli import main; main()", "sandbox",
            "--port", str(port), "--smtp-port", "0", "--quiet",
            "--callback-delay", "3600", "--rate-limit", str(rate),
        ]
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, url
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("the sandbox did not start") from None
            time.sleep(0.1)


def sandbox_call(url: str, path: str, method: str = "GET") -> Any:
    request = urllib.request.Request(url + path, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = answer.read()
    return json.loads(body) if body else None


async def in_process(cfg: Path, count: int) -> tuple[float, int]:
    async with Norq.from_yaml(cfg) as norq:
        began = time.perf_counter()
        delivered = 0
        async for receipt in norq.anotify_many(
            "sms", (recipient(i) for i in range(count)), body="bench", concurrency=64
        ):
            delivered += receipt.ok
        return time.perf_counter() - began, delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--limited", type=int, default=3_000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, default=8, help="processes per worker")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="norq-bench-"))
    results: dict[str, Any] = {}
    with RedisServer(workdir) as broker:
        server, url = fake_twilio()
        try:
            for workers in (1, 2):
                cfg = config(workdir / f"t{workers}.yaml", url, broker.url, {})
                elapsed, status = run_job(
                    cfg, broker.url, workdir, workers, args.messages, args.concurrency
                )
                rate = args.messages / elapsed
                results[f"throughput, {workers} worker(s)"] = round(rate)
                print(
                    f"throughput: {args.messages} messages, {workers} worker(s) x "
                    f"{args.concurrency}: {elapsed:.1f} s, {rate:,.0f}/s, ok {status['ok']}"
                )
        finally:
            server.stop()

        limits = {"requests_per_second": args.rate}
        server, url = sandbox(args.rate)
        try:
            runs: list[tuple[str, Path, bool]] = [
                ("anotify_many, no limit in Norq", config(
                    workdir / "u.yaml", url, None, {"max_in_flight": 0}), False),
                ("anotify_many, limit in Norq", config(workdir / "l.yaml", url, None, limits),
                 False),
                ("celery 2 workers, limit in Norq", config(
                    workdir / "c.yaml", url, broker.url, limits), True),
            ]  # fmt: skip
            for name, cfg, on_celery in runs:
                sandbox_call(url, "/_sandbox/reset", "POST")
                time.sleep(1.1)  # a full token bucket for every run
                if on_celery:
                    elapsed, status = run_job(
                        cfg, broker.url, workdir, 2, args.limited, args.concurrency
                    )
                    delivered = status["ok"]
                else:
                    elapsed, delivered = asyncio.run(in_process(cfg, args.limited))
                refused = sandbox_call(url, "/_sandbox/info")["limits"]["rejected"]
                goodput = delivered / elapsed
                results[name] = {
                    "goodput": round(goodput, 1),
                    "fraction": round(goodput / args.rate, 3),
                    "429s": refused,
                }
                print(
                    f"{name}: delivered {delivered}/{args.limited} in {elapsed:.1f} s, "
                    f"goodput {goodput:.0f}/s = {goodput / args.rate:.0%} of {args.rate:g}/s, "
                    f"{refused} 429s"
                )
        finally:
            server.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
