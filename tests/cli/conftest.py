"""Fixtures for the command-line tests: a runner, config files, a logger left as found."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from click.testing import CliRunner, Result

from norq.cli import main
from tests.cli.fakesms import FAKE_KEY_SECRET, FAKE_TOKEN
from tests.cli.loopback import FakeApi, serve


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
def write_config(tmp_path: Path) -> Callable[..., str]:
    def write(text: str, name: str = "norq.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


@pytest.fixture
def console_config(write_config: Callable[[str], str]) -> str:
    return write_config(CONSOLE_CONFIG, "console.yaml")


@pytest.fixture
def fakesms(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every plugin manager the CLI builds also has the test provider ``fakesms``."""
    import norq.plugins
    import norq.sender
    import norq.wiring
    from tests.cli import fakesms as plugin

    original = norq.plugins.get_plugin_manager

    def with_fakesms(**kwargs: Any) -> pluggy.PluginManager:
        pm = original(**kwargs)
        pm.register(plugin, name="tests.cli.fakesms")
        return pm

    monkeypatch.setattr(norq.plugins, "get_plugin_manager", with_fakesms)
    monkeypatch.setattr(norq.sender, "get_plugin_manager", with_fakesms)
    monkeypatch.setattr(norq.wiring, "get_plugin_manager", with_fakesms)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with serve() as fake:
        yield fake


def fake_config_text(url: str, *, token: bool = True) -> str:
    token_line = f'      token: "{FAKE_TOKEN}"\n' if token else ""
    return f"""\
providers:
  fakesms:
    config:
      base_url: {url}
      key_secret: "{FAKE_KEY_SECRET}"
{token_line}    retry: {{max_retries: 0}}
  console: {{}}
routing:
  sms: fakesms
  chat: console
templates:
  outage:
    sms: {{body: "{{{{ service }}}} is down, {{{{ name }}}}"}}
"""


@pytest.fixture
def fake_config(fakesms: None, api: FakeApi, write_config: Callable[[str, str], str]) -> str:
    """A config routing sms to ``fakesms`` at the loopback fake, chat to the console."""
    return write_config(fake_config_text(api.url), "fake.yaml")


@pytest.fixture
def sandbox() -> Iterator[Any]:
    """A sandbox on loopback (the tests using it skip without uvicorn)."""
    from norq_sandbox import SandboxServer

    with SandboxServer(step_delay=0.01) as server:
        yield server


def sandbox_config(base_url: str) -> str:
    """A config sending ``sms`` through Twilio at a sandbox, with template ``hello``
    (``Hello {{ name }}``) and no retries, so each injected fault shows."""
    from norq_sandbox import DEFAULT_ACCOUNT_SID, DEFAULT_API_KEY_SECRET, DEFAULT_API_KEY_SID

    return f"""\
providers:
  twilio:
    config:
      account_sid: {DEFAULT_ACCOUNT_SID}
      api_key_sid: {DEFAULT_API_KEY_SID}
      api_key_secret: {DEFAULT_API_KEY_SECRET}
      from: "+15005550006"
      base_url: {base_url}
    retry: {{max_retries: 0}}
routing:
  sms: twilio
templates:
  hello:
    sms: {{body: "Hello {{{{ name }}}}"}}
"""
