"""The shipped norq.example.yaml is valid and does what its comments say."""

from __future__ import annotations

import io
from pathlib import Path

import norq

EXAMPLE = Path(__file__).resolve().parent.parent / "norq.example.yaml"


def test_example_config_loads_with_no_environment() -> None:
    app = norq.Norq.from_yaml(EXAMPLE, environ={})
    assert app.routing == {"sms": ("twilio",), "chat": ("console",)}
    assert app.config.templates.names() == ["otp", "outage"]
    assert app.providers["twilio"].retry.max_retries == 2


def test_example_config_points_twilio_at_the_base_url_from_the_environment() -> None:
    app = norq.Norq.from_yaml(EXAMPLE, environ={"NORQ_TWILIO_BASE_URL": "http://127.0.0.1:9"})
    prepared = app.prepare("sms", "+15005550006", template="otp", data={"app": "Acme", "code": "1"})
    assert prepared.request.url.startswith("http://127.0.0.1:9/2010-04-01/Accounts/AC")
    assert ("Body", "Your Acme code is 1. It expires in 10 minutes.") in (
        prepared.request.form or ()
    )


def test_example_config_chat_channel_prints_to_the_console() -> None:
    stream = io.StringIO()
    app = norq.Norq.from_yaml(EXAMPLE, environ={}, console_stream=stream)
    assert app.notify("chat", "#ops", body="deploy finished").ok
    assert "deploy finished" in stream.getvalue()
