"""Every shell command in docs/sandbox.md works as written, run from the repository root.

The commands are read from the page's ``sh`` blocks, not copied here, so the
page cannot drift from what works. Two adjustments let them run beside other
tests on a shared machine: commands aimed at ``127.0.0.1:8765`` /
``localhost:8765`` are aimed at a sandbox on a free port instead, and a
``norq sandbox`` command is started with ``--port 0 --smtp-port 0``, then stopped with
Ctrl+C once it is serving. ``pip install`` lines are left to the packaging.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("uvicorn")

from norq_sandbox import SandboxServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "sandbox.md"
BIN = Path(sys.executable).parent
DOCUMENTED_ADDRESS = re.compile(r"\b(?:127\.0\.0\.1|localhost):8765\b")
TIMEOUT = 30


def shell_commands(markdown: str) -> list[str]:
    """Each command line of the page's ``sh`` blocks, trailing comments dropped."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(shlex.join(words))
    return commands


COMMANDS = shell_commands(DOC.read_text("utf-8"))
SERVERS = [c for c in COMMANDS if c.startswith("norq sandbox")]
REQUESTS = [c for c in COMMANDS if DOCUMENTED_ADDRESS.search(c)]


def clean_environment() -> dict[str, str]:
    # The user's own Twilio or Norq settings must not change what the docs promise.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "NORQ_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def wait_until_serving(url: str) -> dict[str, object]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            info: dict[str, object] = httpx.get(f"{url}/_sandbox/info", timeout=5).json()
            return info
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


def test_the_page_has_the_commands_this_test_expects() -> None:
    assert len(SERVERS) >= 3
    assert any(" norq send " in f" {c} " for c in REQUESTS)
    assert any(c.startswith("curl") for c in REQUESTS)
    assert set(COMMANDS) - set(SERVERS) - set(REQUESTS) == {"pip install 'norq[sandbox]'"}, (
        "a new kind of command in docs/sandbox.md needs a way to run here"
    )


@pytest.mark.parametrize("command", SERVERS)
def test_each_norq_sandbox_command_starts_a_sandbox(command: str) -> None:
    process = subprocess.Popen(
        [*shlex.split(command), "--port", "0", "--smtp-port", "0"],
        cwd=ROOT,
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        assert banner, "norq sandbox printed nothing"
        assert banner[0].startswith("Norq sandbox on http://127.0.0.1:"), banner
        url = banner[0].split()[-1]
        assert wait_until_serving(url)["account_sid"].startswith("AC")
        process.send_signal(signal.SIGINT)
        assert process.wait(TIMEOUT) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(TIMEOUT)


@pytest.mark.parametrize("command", REQUESTS)
def test_each_command_aimed_at_the_sandbox_works(command: str, sandbox: SandboxServer) -> None:
    if command.startswith("curl") and shutil.which("curl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("curl is missing in CI")
        pytest.skip("curl is not installed")
    address = sandbox.url.removeprefix("http://")
    aimed = DOCUMENTED_ADDRESS.sub(address, command)

    result = subprocess.run(
        ["bash", "-c", aimed],
        cwd=ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    if command.startswith("curl"):
        assert_success(result.stdout)


def assert_success(output: str) -> None:
    """What the page's curl commands print when they work: JSON without an error, a
    webhook's ``ok``, or nothing (SendGrid's 202, a reset's 204)."""
    if not output.strip().startswith("{"):
        assert output.strip() in ("", "ok"), output
        return
    answer = json.loads(output)
    assert "error" not in answer, answer
    assert "errors" not in answer, answer
    assert answer.get("ok", True) is True, answer
    assert all(m.get("status", "0") == "0" for m in answer.get("messages", [])), answer


def test_the_newcomer_command_lands_in_the_sandbox(sandbox: SandboxServer) -> None:
    (command,) = [c for c in REQUESTS if " norq send " in f" {c} "]
    sandbox.reset()

    subprocess.run(
        ["bash", "-c", DOCUMENTED_ADDRESS.sub(sandbox.url.removeprefix("http://"), command)],
        cwd=ROOT,
        env=clean_environment(),
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )

    (message,) = sandbox.messages()
    assert (message.draft.to, message.draft.body) == ("+15558675310", "Hello")
