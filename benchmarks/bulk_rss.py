"""One bulk run in a fresh process, reporting its peak RSS (``ru_maxrss``) as JSON.

``python -m benchmarks.bulk_rss --count N --source generator|csv [--csv FILE]
[--base-url URL]``. Without ``--base-url`` the notifications go to the
``console`` provider writing to ``os.devnull``: the whole Norq pipeline
(router, template render, ``prepare_send``, executor, receipts, the bounded
``anotify_many`` queue) runs per recipient, but no socket, so a million
recipients take seconds rather than minutes. With ``--base-url`` they go
through the real ``twilio`` provider and the aiohttp transport to the fake.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.contenders import TEMPLATE, build_norq, recipient

CONCURRENCY = 64


def from_generator(count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {"to": recipient(i), "name": "Ada", "code": i, "minutes": 10}


def from_csv(path: str) -> Iterator[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def write_csv(path: str, count: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("to", "name", "code", "minutes"))
        writer.writerows((recipient(i), "Ada", i, 10) for i in range(count))


async def run(norq: Any, source: Iterator[dict[str, Any]]) -> int:
    ok = 0
    try:
        async for receipt in norq.anotify_many(
            "sms", source, template="code", concurrency=CONCURRENCY
        ):
            ok += receipt.ok
    finally:
        # Inside the loop that opened it, so aiohttp's session closes cleanly.
        await norq.aclose()
    return ok


def peak_rss_kib() -> int:
    """This process's peak RSS. Linux keeps ``ru_maxrss`` across ``exec``, so a child
    started from a bigger parent would report the parent's peak: read ``VmHWM``."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--source", choices=("generator", "csv"), required=True)
    parser.add_argument("--csv")
    parser.add_argument("--base-url")
    args = parser.parse_args()

    if args.base_url:
        norq = build_norq(args.base_url)
    else:
        from norq import Norq

        null = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        norq = Norq.from_dict(
            {
                "providers": {"console": {}},
                "routing": {"sms": "console"},
                "templates": {"code": {"sms": {"body": TEMPLATE}}},
            },
            environ={},
            console_stream=null,
        )
    source = from_generator(args.count) if args.source == "generator" else from_csv(args.csv)
    started = time.perf_counter()
    ok = asyncio.run(run(norq, source))
    seconds = time.perf_counter() - started
    peak_kib = peak_rss_kib()
    json.dump(
        {"count": args.count, "ok": ok, "seconds": seconds, "maxrss_kib": peak_kib}, sys.stdout
    )


if __name__ == "__main__":
    main()
