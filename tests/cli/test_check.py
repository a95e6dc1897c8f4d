"""``norq config check``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Run
from tests.cli.fakesms import FAKE_KEY_SECRET, FAKE_TOKEN
from tests.cli.loopback import FakeApi


def test_valid_config_prints_providers_routing_templates_with_secrets_hidden(
    run: Run, fake_config: str, api: FakeApi
) -> None:
    result = run("config", "check", fake_config)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"{fake_config}: valid\nproviders:\n  fakesms: type fakesms\n")
    assert f"    base_url: {api.url}\n" in out
    assert "    key_secret: ***\n" in out
    assert "    token: ***\n" in out
    assert "    retry: max 0 retries" in out
    assert "routing:\n  sms: fakesms\n  chat: console\n" in out
    assert "templates:\n  outage: sms\n" in out
    assert "executor: timeout 10.0s" in out
    assert FAKE_KEY_SECRET not in out
    assert FAKE_TOKEN not in out


def test_every_problem_is_listed_with_its_path_and_exit_2(
    run: Run, write_config: Callable[..., str]
) -> None:
    path = write_config(
        "providers:\n  x: {type: nope}\n  console: {config: {stream: pipe}}\n"
        "routing: {sms: zz}\nfoo: 1\n"
    )
    result = run("config", "check", path)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: {path}: 4 problems"
    # Each problem starts with where it is written: file:line:col, then the dotted path.
    assert [line.strip().split(": ")[:2] for line in lines[1:]] == [
        [f"{path}:5:1", "foo"],
        [f"{path}:2:7", "providers.x.type"],
        [f"{path}:3:22", "providers.console.config.stream"],
        [f"{path}:4:11", "routing.sms"],
    ]


def test_check_discovers_norq_yaml(run: Run, console_config: str, tmp_path: Path) -> None:
    (tmp_path / "norq.yaml").write_text(Path(console_config).read_text())
    result = run("config", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("norq.yaml: valid\n")


def test_check_with_no_file_reports_the_environment(
    run: Run, fakesms: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NORQ_FAKESMS_BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("NORQ_FAKESMS_KEY_SECRET", "from-env-secret")
    result = run("config", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("no config file; the environment only: valid\n")
    assert "fakesms: type fakesms  (from environment variables)" in result.stdout
    assert "from-env-secret" not in result.stdout
    assert "  sms: fakesms" in result.stdout


def test_a_config_that_can_send_nothing_fails_and_says_where_norq_looked(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NORQ_TWILO_ACCOUNT_SID", "AC11111111111111111111111111111111")
    result = run("config", "check")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "norq: warning: NORQ_TWILO_ACCOUNT_SID looks like NORQ_TWILIO_ACCOUNT_SID",
        "Error: this config can send nothing: no channel is routed. Norq read no config file "
        "($NORQ_CONFIG is not set and there is no ./norq.yaml); NORQ_<PROVIDER>_* variables "
        "set: none; NORQ_TWILO_ACCOUNT_SID looks like NORQ_TWILIO_ACCOUNT_SID; `norq "
        "providers` lists the variables that configure each provider",
    ]


def test_check_shows_notifications_and_celery_with_the_password_hidden(
    run: Run, write_config: Callable[..., str]
) -> None:
    path = write_config(
        "providers: {console: {}}\nrouting: {sms: console, email: console}\n"
        "templates:\n  hi: {sms: {body: hi}, email: {subject: s, body: hi}}\n"
        "notifications:\n  welcome: {channels: [email, sms], strategy: first, template: hi}\n"
        "celery: {broker_url: 'redis://:hunter2@127.0.0.1:6379/0'}\n"
    )
    result = run("config", "check", path)
    assert result.exit_code == 0, result.output
    assert "notifications:\n  welcome: email, sms (first), template hi\n" in result.stdout
    assert "celery:\n  broker_url: redis://:***@127.0.0.1:6379/0\n" in result.stdout
    assert "hunter2" not in result.stdout


def test_invalid_environment_is_reported(
    run: Run, fakesms: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NORQ_FAKESMS_KEY_SECRET", "x")
    result = run("config", "check")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "Error: the environment: 1 problem"


def test_missing_file(run: Run) -> None:
    result = run("config", "check", "nope.yaml")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: nope.yaml: 1 problem",
        "  nope.yaml: config file not found",
    ]
