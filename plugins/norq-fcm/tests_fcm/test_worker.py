"""The token source in Celery workers: each worker process obtains one token and reuses it.

Real ``norq worker`` processes (two prefork children) send a bulk job to the
Google stand-in in this process, through a private Redis; the workers are
stopped by PID whatever happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from norq import Norq
from norq.testing import MockServer
from tests.jobs.redis_server import RedisServer
from tests.jobs.test_distributed import wait_for
from tests.jobs.workers import Worker
from tests_fcm.conftest import TOKEN, Google, fcm_document

pytestmark = pytest.mark.e2e


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server


def test_workers_obtain_one_token_each_and_send_every_row(
    rsa_key: rsa.RSAPrivateKey,
    google: tuple[Google, MockServer],
    redis: RedisServer,
    tmp_path: Path,
) -> None:
    api, server = google
    document = fcm_document(rsa_key, server.url)
    document["celery"] = {"broker_url": redis.url, "chunk_size": 5}
    config = tmp_path / "norq.yaml"
    config.write_text(yaml.safe_dump(document), "utf-8")
    worker = Worker(config, tmp_path / "worker.log", concurrency=2)
    try:
        with Norq.from_yaml(config) as app:
            job = app.enqueue_many("push", [TOKEN] * 20, body="Your order shipped")
            wait_for(redis.url, job, done=20, timeout=120)
            receipts = list(app.job_receipts(job))
    finally:
        worker.stop()
    assert [receipt.ok for receipt in receipts] == [True] * 20
    assert len(api.sent) == 20
    # One exchange per worker process at most, not one per message.
    assert 1 <= len(api.issued) <= 2
    assert {sent["token"] for sent in api.sent} <= set(api.issued)
