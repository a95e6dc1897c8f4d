"""What a person sees: the dry run shows the exact MIME message, and the password never shows."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from smtp_testserver import PASSWORD, USERNAME, StartServer, send

import norq
from norq.cli import main

CONFIG = """\
providers:
  mail:
    type: smtp
    config:
      host: smtp.example.test
      username: {username}
      password: ${{SMTP_PASSWORD}}
      sender: alerts@example.test
      sender_name: Norq Alerts
routing:
  email: mail
templates:
  shipped:
    email:
      subject: "Order {{{{ order }}}} shipped"
      body: "Order {{{{ order }}}} is on its way."
      html: "<p>Order <b>{{{{ order }}}}</b> is on its way.</p>"
"""


def leaks(text: str) -> bool:
    plain = base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()
    login = base64.b64encode(PASSWORD.encode()).decode()
    return any(secret in text for secret in (PASSWORD, plain, login))


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "norq.yaml"
    path.write_text(CONFIG.format(username=USERNAME), encoding="utf-8")
    return path


def dry_run(config_file: Path, *extra: str) -> str:
    result = CliRunner().invoke(
        main,
        [
            "send",
            "email",
            "--to",
            "ada@example.test",
            "--template",
            "shipped",
            "--data",
            "order=42",
            "--dry-run",
            "--config",
            str(config_file),
            *extra,
        ],
        env={"SMTP_PASSWORD": PASSWORD},
        prog_name="norq",
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_dry_run_shows_the_server_the_envelope_and_the_mime_message(
    config_file: Path,
) -> None:
    output = dry_run(config_file)
    lines = output.splitlines()
    assert lines[0] == "# email to ada@example.test via mail"
    assert "# transport: smtp" in lines
    assert f"SMTP smtp.example.test:587 (STARTTLS, AUTH as {USERNAME} (password ***))" in lines
    assert "MAIL FROM:<alerts@example.test>" in lines
    assert "RCPT TO:<ada@example.test>" in lines
    assert "From: Norq Alerts <alerts@example.test>" in lines
    assert "To: ada@example.test" in lines
    assert "Subject: Order 42 shipped" in lines
    assert any(line.startswith("Message-ID: <") for line in lines)
    assert any(line.startswith("Content-Type: multipart/alternative;") for line in lines)
    assert "<p>Order <b>42</b> is on its way.</p>" in output
    assert not leaks(output)


def test_the_dry_run_as_json_hides_the_password(config_file: Path) -> None:
    output = dry_run(config_file, "--json")
    assert "Subject: Order 42 shipped" in output
    assert not leaks(output)


def test_config_check_and_providers_hide_the_password(config_file: Path) -> None:
    runner = CliRunner()
    for args in (["config", "check", str(config_file)], ["providers"]):
        result = runner.invoke(main, args, env={"SMTP_PASSWORD": PASSWORD}, prog_name="norq")
        assert result.exit_code == 0, result.output
        assert not leaks(result.output)


def test_reprs_and_the_prepared_email_hide_the_password(smtp_server: StartServer) -> None:
    server = smtp_server(security="starttls", auth=True)
    with server.norq() as app:
        prepared = app.prepare("email", "ada@example.test", body="hi", subject="s")
        provider = app.providers["mail"]
        for text in (
            repr(provider),
            repr(provider.config),
            str(provider.config),
            repr(prepared),
            repr(prepared.request),
            str(prepared.request),
            repr(app),
        ):
            assert not leaks(text), text


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_logs_and_errors_of_failing_sends_hide_the_password(
    smtp_server: StartServer, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.DEBUG)
    server = smtp_server(security="starttls", auth=True)
    server.recorder.replies["mail"] = ["451 4.3.0 try later"] * 3
    app = server.norq(retry={"max_retries": 1})
    with pytest.raises(norq.DeliveryError) as caught:
        await send(app, mode)
    assert caplog.records, "the retry should have been logged"
    for text in (caplog.text, str(caught.value), repr(caught.value.receipt)):
        assert not leaks(text), text


def test_a_config_error_does_not_echo_the_password() -> None:
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict(
            {
                "providers": {
                    "mail": {
                        "type": "smtp",
                        "config": {
                            "host": "smtp.example.test",
                            "security": "none",
                            "username": USERNAME,
                            "password": PASSWORD,
                            "sender": "alerts@example.test",
                        },
                    }
                }
            },
            environ={},
        )
    assert "password in clear" in str(caught.value)
    assert not leaks(str(caught.value))
