"""A body is sent as written: one holding template syntax is refused, in Python and in the CLI,
with the way to fill it (a template), before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import norq
from norq.cli import main
from norq.testing import MockTransport

ANN = "+15551230001"
CONFIG = {"providers": {"console": {}}, "routing": {"sms": "console"}}


@pytest.mark.parametrize("body", ["Hi {{ name }}", "Hi {{name}}!", "{% if vip %}Hi{% endif %}"])
def test_a_body_with_template_syntax_is_refused_with_the_way_to_fill_it(body: str) -> None:
    with pytest.raises(norq.MessageError) as refused:
        norq.Notification("sms", ANN, body=body)
    message = str(refused.value)
    assert "sent exactly as written" in message
    assert "template=NAME" in message
    assert "--template NAME" in message


@pytest.mark.parametrize("body", ["Use {curly} braces", "Set {{ in a sentence", "50% off {%"])
def test_braces_that_are_not_a_template_are_sent(body: str) -> None:
    assert norq.Notification("sms", ANN, body=body).body == body


def test_notify_many_refuses_before_the_first_request() -> None:
    mock = MockTransport()
    app = norq.Norq.from_dict(CONFIG, environ={}, transports={"http": mock})
    people = [{"to": ANN, "name": "Ann"}]
    with pytest.raises(norq.MessageError, match="template syntax"):
        list(app.notify_many("sms", people, body="Hi {{ name }}"))
    assert mock.requests == []


def test_the_cli_refuses_it_with_csv_data_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "norq.yaml"
    config.write_text("providers: {console: {}}\nrouting: {sms: console}\n")
    people = tmp_path / "people.csv"
    people.write_text(f"to,name\n{ANN},Ann\n")
    result = CliRunner().invoke(
        main,
        ["send", "sms", "--csv", str(people), "--body", "Hi {{ name }}", "--config", str(config)],
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Error: the body holds template syntax ({{ name }})" in result.stderr
