"""Real ``norq worker`` processes for tests, each in its own process group, stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class Worker:
    """One ``norq worker`` (a Celery parent and its prefork children)."""

    def __init__(self, config: Path, log: Path, concurrency: int = 1) -> None:
        command = [
            sys.executable, "-c", "from norq.cli import main; main()", "worker",
            "--config", str(config),
            "--concurrency", str(concurrency),
            "--loglevel", "WARNING",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        self._log = log.open("ab")
        # A session of its own: the worker and its children share one group id,
        # the worker's PID, so the whole worker can be killed at once.
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the worker and its children: nothing gets to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._log.close()

    def stop(self) -> None:
        """A warm shutdown, then SIGKILL if it takes too long."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()
