"""Runs one docs page's examples in order, inside the page's own environment.

Started by tests/docs as ``python driver.py STEPS.json`` with the page's
interpreter and working directory. Uses only the standard library (and Norq,
for ``yaml`` configs), so it runs in any page environment. The first step that
fails prints where it is written (``docs/page.md:LINE``) and what went wrong,
and the exit status is 1. Commands a page starts in the background (a worker)
run in their own process groups and are stopped by PID when the page ends.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

COMMAND_TIMEOUT = 120
# How long a background command (a worker) gets to stop after SIGTERM before SIGKILL.
STOP_GRACE = 15
# The process groups of the background commands, one PID a line, in the working directory.
PIDS = ".docs-background.pids"


class StepFailed(Exception):
    pass


def run_python(code: str, where: str, namespace: dict[str, Any]) -> None:
    # As a module of its own would run it: top-level `await` and `async with` allowed,
    # the way the asyncio REPL runs them.
    compiled = compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    result = eval(compiled, namespace)
    if inspect.iscoroutine(result):
        asyncio.run(result)


def run_shell(script: str, expected: int, where: str) -> None:
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != expected:
        raise StepFailed(
            f"{where}: exit status {done.returncode}, expected {expected}\n"
            f"$ {script}\n{done.stdout}{done.stderr}"
        )


class Background:
    """Commands the page runs beside its later steps (a worker), each in its own process group."""

    def __init__(self) -> None:
        self._started: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, command: str, where: str) -> None:
        log = Path(f".docs-background-{len(self._started)}.log")
        with log.open("wb") as output:
            process = subprocess.Popen(
                ["bash", "-c", command],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # For the test, which stops these groups itself if this driver is killed first.
        with Path(PIDS).open("a", encoding="utf-8") as pids:
            pids.write(f"{process.pid}\n")
        self._started.append((where, process, log))

    def check(self) -> None:
        """Fail the page if a background command has already stopped on an error."""
        for where, process, log in self._started:
            status = process.poll()
            if status is not None and status != 0:
                raise StepFailed(f"{where}: the background command exited {status}\n{_tail(log)}")

    def stop(self) -> None:
        """SIGTERM each command's whole process group, then SIGKILL what is left."""
        for _, process, _ in self._started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process, _ in self._started:
            try:
                process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def logs(self) -> str:
        return "".join(
            f"\n--- {where}, in the background ---\n{_tail(log)}" for where, _, log in self._started
        )


def _tail(log: Path) -> str:
    return log.read_bytes()[-3000:].decode("utf-8", "replace")


def load_config(text: str, where: str) -> None:
    import norq

    path = Path(".docs-config.yaml")
    path.write_text(text, "utf-8")
    try:
        with norq.Norq.from_yaml(path):
            pass
    except norq.ConfigError as exc:
        raise StepFailed(f"{where}: this YAML is not a valid Norq config:\n{exc}") from None
    finally:
        path.unlink()


def main(steps_file: str) -> int:
    # As `python` started in the page's directory has it: an example imports the
    # module an earlier block wrote there (`from app import app`). The driver runs
    # with -P, which keeps its own directory off the path, and this one too.
    sys.path.insert(0, str(Path.cwd()))
    background = Background()
    try:
        return run_steps(json.loads(Path(steps_file).read_text("utf-8")), background)
    finally:
        background.stop()


def run_steps(steps: list[dict[str, Any]], background: Background) -> int:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for step in steps:
        where = step["where"]
        try:
            if step["kind"] in ("file", "append"):
                target = Path(step["path"])
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("a" if step["kind"] == "append" else "w", encoding="utf-8") as f:
                    f.write(step["text"])
            elif step["kind"] == "python":
                run_python(step["text"], where, namespace)
            elif step["kind"] == "shell":
                run_shell(step["text"], step["exit"], where)
            elif step["kind"] == "yaml":
                load_config(step["text"], where)
            elif step["kind"] == "background":
                background.start(step["text"], where)
            background.check()
        except StepFailed as failed:
            print(f"\nFAILED {failed}{background.logs()}", file=sys.stderr)
            return 1
        except BaseException as exc:
            # The example's own frames only: the driver's say nothing about the docs.
            frames = traceback.extract_tb(exc.__traceback__)
            ours = [f for f in frames if f.filename != __file__ and "/norq/" not in f.filename]
            shown = "".join(traceback.format_list(ours[-3:] or frames[-3:]))
            error = "".join(traceback.format_exception_only(exc))
            print(
                f"\nFAILED {where}: the example raised\n{shown}{error}{background.logs()}",
                file=sys.stderr,
            )
            return 1
        print(f"ok {where}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
