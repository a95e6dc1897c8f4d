"""Fixtures for the command-line tests: a runner, config files, a logger left as found."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from norq.cli import main


@pytest.fixture(autouse=True)
def _restore_norq_logger() -> Iterator[None]:
    # The CLI configures the "norq" logger for its process; tests share one process.
    logger = logging.getLogger("norq")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers, logger.level, logger.propagate = handlers, level, propagate


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Discovery must not pick up the developer's NORQ_* variables or a norq.yaml.
    import os

    for name in list(os.environ):
        if name.startswith("NORQ_") and name != "NORQ_LOAD_PLUGINS":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


Run = Callable[..., Result]


@pytest.fixture
def run() -> Run:
    """Invoke ``norq ARGS...`` in-process; stdout and stderr are kept apart."""

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=input, prog_name="norq")

    return invoke


CONSOLE_CONFIG = """\
providers:
  console: {}
routing:
  chat: console
templates:
  hello:
    chat: {body: "Hello {{ name }}, your code is {{ code }}"}
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], str]:
    def write(text: str, name: str = "norq.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


@pytest.fixture
def console_config(write_config: Callable[[str], str]) -> str:
    return write_config(CONSOLE_CONFIG, "console.yaml")
