"""The examples of the application developers' pages run as written.

The pages follow the docs runner's conventions: a block marked
``<!-- docs: file PATH -->`` is written to PATH, ``<!-- docs: skip ... -->``
is not run, ``sh`` lines run as commands (``pip install`` lines name what the
page needs, which ``make test`` installs), and the ``python`` blocks run
together, in order, in the directory the files were written to.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import norq

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(
    r"(?:^<!-- docs: (?P<marker>[^\n]*?) -->\n)?^```(?P<lang>\w*)[^\n]*\n(?P<code>.*?)^```",
    re.M | re.S,
)
PAGES = ["testing.md", "observability.md", "fastapi.md"]
ROOT = DOCS.parent

#: What a page's python blocks print, at least.
PRINTED = {"observability.md": ('"name": "norq.notify sms"', '"name": "norq.notifications.sent"')}


@dataclass(frozen=True, slots=True)
class Block:
    lang: str
    marker: str
    code: str


def blocks(page: str) -> list[Block]:
    text = (DOCS / page).read_text("utf-8")
    return [Block(m["lang"], m["marker"] or "", m["code"]) for m in BLOCK.finditer(text)]


def clean_env(directory: Path) -> dict[str, str]:
    """No credentials or config of this machine's: the examples' own defaults apply."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NORQ_", "TWILIO_", "SENDGRID_", "PYTEST_"))
    }
    env["PYTHONPATH"] = str(directory)
    return env


def run(command: list[str], directory: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=directory,
        env={**clean_env(directory), **env},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("page", PAGES)
def test_the_page_runs_as_written(page: str, tmp_path: Path) -> None:
    python: list[str] = []
    commands = 0
    for block in blocks(page):
        if block.marker.startswith("skip"):
            continue
        if block.marker.startswith("file "):
            (tmp_path / block.marker.removeprefix("file ")).write_text(block.code, "utf-8")
        elif block.lang == "python":
            python.append(block.code)
        elif block.lang == "sh":
            for line in block.code.splitlines():
                words = shlex.split(line)
                if not words or words[0] == "pip":
                    continue
                assert words[0] == "pytest", f"{page}: no way to run {line!r} here"
                done = run(
                    [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *words[1:]], tmp_path
                )
                assert done.returncode == 0, f"{page}: {line}\n{done.stdout}{done.stderr}"
                assert re.search(r"\b\d+ passed\b", done.stdout)
                commands += 1
    done = run([sys.executable, "-c", "\n".join(python)], tmp_path)

    assert done.returncode == 0, f"{page}:\n{done.stderr}"
    for expected in PRINTED.get(page, ()):
        assert expected in done.stdout
    assert python or commands


def test_the_failure_message_shown_in_testing_md_is_the_real_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [config] = [b.code for b in blocks("testing.md") if b.marker == "file norq.yaml"]
    [shown] = [b.code for b in blocks("testing.md") if b.lang == "text"]
    (tmp_path / "norq.yaml").write_text(config, "utf-8")
    for variable in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SENDGRID_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    ada = norq.Contact(email="ada@example.com", sms="+15557654321", data={"name": "Ada"})

    from norq.testing import fake_notifications

    app = norq.Norq.from_yaml(tmp_path / "norq.yaml")
    with fake_notifications() as fake:
        app.notify(notification="order_shipped", to=ada, data={"order": 1042})
        with pytest.raises(AssertionError) as failure:
            fake.assert_sent(to="ada@example.com", channel="email", data={"order": 1043})

    assert f"AssertionError: {failure.value}\n" == shown


DJANGO_CONFTEST = """
import django
from django.test.utils import setup_test_environment

django.setup()
setup_test_environment()
"""


def test_the_django_page_tests_pass_in_the_sample_project(tmp_path: Path) -> None:
    [example] = [b.code for b in blocks("django.md") if "class ShippingTests" in b.code]
    (tmp_path / "conftest.py").write_text(DJANGO_CONFTEST, "utf-8")
    (tmp_path / "test_django_md.py").write_text(example, "utf-8")

    done = run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_django_md.py"],
        tmp_path,
        PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}",
        DJANGO_SETTINGS_MODULE="tests.django_project.shopsite.settings",
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
