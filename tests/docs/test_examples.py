"""Every example in README.md and docs/ runs, exactly as written.

Each page is one test: its runnable blocks (see tests/docs/markdown.py and the
README's "Examples in the docs") run top to bottom in a fresh directory, in an environment
holding Norq and only what the page's ``pip install`` lines name, against a
sandbox standing in for every provider. New pages are picked up by themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("uvicorn")

from norq_sandbox import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_API_KEY_SECRET,
    DEFAULT_API_KEY_SID,
    DEFAULT_AUTH_TOKEN,
    SandboxServer,
)
from norq_sandbox.settings import (
    DEFAULT_SENDGRID_API_KEY,
    DEFAULT_SLACK_TOKEN,
    DEFAULT_TELEGRAM_TOKEN,
    DEFAULT_VONAGE_API_KEY,
    DEFAULT_VONAGE_API_SECRET,
)

from tests.docs import driver
from tests.docs.envs import ROOT, Environments, normalised
from tests.docs.markdown import (
    Block,
    Page,
    console_commands,
    pip_requirements,
    read_page,
    shell_commands,
)
from tests.jobs.redis_server import RedisServer

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
PAGE_TIMEOUT = 300
# The variables the docs' configs read credentials from, holding the sandbox's.
CREDENTIALS = {
    "TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
    "TWILIO_API_KEY_SID": DEFAULT_API_KEY_SID,
    "TWILIO_API_KEY_SECRET": DEFAULT_API_KEY_SECRET,
    "TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
    "SENDGRID_API_KEY": DEFAULT_SENDGRID_API_KEY,
    "VONAGE_API_KEY": DEFAULT_VONAGE_API_KEY,
    "VONAGE_API_SECRET": DEFAULT_VONAGE_API_SECRET,
    "SLACK_BOT_TOKEN": DEFAULT_SLACK_TOKEN,
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0SANDBOX/B0SANDBOX/docs-secret",
    "SMTP_PASSWORD": "docs-smtp-password",
    "TELEGRAM_BOT_TOKEN": DEFAULT_TELEGRAM_TOKEN,
    # An application server's own VAPID key (base64url of 32 bytes), made for the docs.
    "VAPID_PRIVATE_KEY": "hB3LXcBJqR6B3yR2z0sQuDgyDhoO8iSkqYV1VQF1Ahs",
}
# Where docs/sandbox.md says `norq sandbox` listens (HTTP, then SMTP).
DOCUMENTED_HTTP = re.compile(r"\b(?:127\.0\.0\.1|localhost):8765\b")
DOCUMENTED_SMTP = re.compile(r"\b127\.0\.0\.1(?::|\"\s*,\s*)2525\b")
SANDBOX_IN_BACKGROUND = re.compile(r"^norq sandbox\b[^&]*&$")
# What a user's own settings must not change about a page.
FOREIGN = (
    "TWILIO_",
    "NORQ_",
    "SENDGRID_",
    "VONAGE_",
    "SLACK_",
    "SMTP_",
    "TELEGRAM_",
    "FCM_",
    "APNS_",
    "VAPID_",
    "DJANGO_",
    "VIRTUAL_ENV",
)


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module")
def environments() -> Environments:
    return Environments()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


class Redis:
    """A redis-server for the pages about Celery, started when the first one runs."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._server: RedisServer | None = None

    def url(self) -> str:
        if self._server is None:
            self._server = RedisServer(self._directory).start()
        return self._server.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    server = Redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


def requirements(page: Page) -> tuple[str, ...]:
    """What the page's ``pip install`` lines and ``docs: requires`` markers name."""
    named = list(page.requires)
    for block in page.blocks:
        for command in commands(block):
            named += pip_requirements(command) or []
    return normalised(named)


def commands(block: Block) -> list[str]:
    if block.language == "console":
        return console_commands(block.text)
    if block.language == "sh":
        return shell_commands(block.text)
    return []


def aimed(text: str, sandbox: SandboxServer) -> str:
    """The sandbox's documented addresses replaced by this one's (free) ports."""
    text = DOCUMENTED_HTTP.sub(sandbox.url.removeprefix("http://"), text)
    return DOCUMENTED_SMTP.sub(lambda found: found[0].replace("2525", str(sandbox.smtp_port)), text)


def steps(page: Page, sandbox: SandboxServer) -> list[dict[str, object]]:
    """The driver's script for a page (tests/docs/driver.py)."""
    script: list[dict[str, object]] = []
    for block in page.runnable:
        where, text = block.where, aimed(block.text, sandbox)
        if block.file is not None:
            kind = "append" if block.append else "file"
            script.append({"kind": kind, "where": where, "path": block.file, "text": text})
        elif block.language == "python":
            script.append({"kind": "python", "where": where, "text": text})
        elif block.language == "yaml":
            script.append({"kind": "yaml", "where": where, "text": text})
        else:
            # `pip install` lines name the page's environment, which is built for it,
            # and the sandbox a page starts in the background is the one running.
            run = [
                aimed(c, sandbox)
                for c in commands(block)
                if pip_requirements(c) is None and not SANDBOX_IN_BACKGROUND.match(c)
            ]
            # A server or a worker the page starts (`&`, or a whole block marked
            # `docs: background`) runs beside the later steps, stopped when the page ends.
            for command in run:
                if block.background or command.endswith("&"):
                    body = command.removesuffix("&").rstrip()
                    script.append({"kind": "background", "where": where, "text": body})
            run = [c for c in run if not (block.background or c.endswith("&"))]
            if run:
                body = "\n".join(run)
                script.append({"kind": "shell", "where": where, "text": body, "exit": 0})
                if block.exit_code:
                    *first, last = run
                    body = "\n".join(["set -e", *first, "set +e", last])
                    script[-1].update(text=body, exit=block.exit_code)
                else:
                    script[-1]["text"] = "set -e\n" + body
    return script


def stop_background(pids: Path) -> None:
    """Kill the process groups a page started in the background."""
    if not pids.exists():
        return
    for pid in pids.read_text("utf-8").split():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pid), signal.SIGKILL)


def world_environment(python: Path, sandbox: SandboxServer, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env.pop("PYTHONPATH", None)
    env.update(CREDENTIALS)
    # The push services' keys are made by each sandbox, as Google and Apple make them.
    apns_key, apns_key_id, apns_team_id = sandbox.apns_signing_key()
    env["FCM_SERVICE_ACCOUNT"] = json.dumps(sandbox.fcm_service_account())
    env.update(APNS_KEY=apns_key, APNS_KEY_ID=apns_key_id, APNS_TEAM_ID=apns_team_id)
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(HERE / "site")
    env["REDIS_URL"] = redis_url
    env["NORQ_DOCS_WORLD"] = json.dumps(
        {"url": sandbox.url, "smtp": [sandbox.smtp_host, sandbox.smtp_port]}
    )
    return env


@pytest.mark.parametrize("path", PAGES, ids=page_id)
def test_every_example_on_the_page_runs(
    path: Path, environments: Environments, sandbox: SandboxServer, redis: Redis, tmp_path: Path
) -> None:
    page = read_page(path, Path(page_id(path)))
    script = steps(page, sandbox)
    if not script:
        return
    needs = requirements(page)
    python = environments.python(needs)
    # Only a page that installs Celery gets a Redis; the others see one that refuses.
    redis_url = redis.url() if any("celery" in r for r in needs) else "redis://127.0.0.1:1/0"
    steps_file = tmp_path / "steps.json"
    steps_file.write_text(json.dumps(script), "utf-8")
    workdir = tmp_path / "work"
    workdir.mkdir()
    # As at the repository root, where docs/sandbox.md runs `make demo`'s config.
    shutil.copy(ROOT / "norq.example.yaml", workdir)
    sandbox.reset()

    try:
        done = subprocess.run(
            [str(python), "-P", str(HERE / "driver.py"), str(steps_file)],
            cwd=workdir,
            env=world_environment(python, sandbox, redis_url),
            capture_output=True,
            text=True,
            timeout=PAGE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        # Killed, the driver could not stop what the page runs in the background.
        stop_background(workdir / driver.PIDS)
        raise

    assert done.returncode == 0, (
        f"an example of {page.path} failed (environment: "
        f"{shlex.join(requirements(page))}):\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    )


def test_what_a_page_starts_in_the_background_is_a_step_of_its_own(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs: background -->\n```console\n$ norq worker --config a.yaml\n```\n\n"
        "```console\n$ norq worker --config b.yaml &\n$ norq jobs watch JOB\nwatching\n```\n",
        "utf-8",
    )
    world = SimpleNamespace(url="http://127.0.0.1:1", smtp_port=2)
    script = steps(read_page(page, Path("page.md")), world)  # type: ignore[arg-type]
    assert [(step["kind"], step["text"]) for step in script] == [
        ("background", "norq worker --config a.yaml"),
        ("background", "norq worker --config b.yaml"),
        ("shell", "set -e\nnorq jobs watch JOB"),
    ]
