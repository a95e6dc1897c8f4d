"""``norq providers`` and ``norq plugins``."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Run


def test_providers_lists_package_version_channels_and_config_fields(
    run: Run, fakesms: None
) -> None:
    result = run("providers")
    assert result.exit_code == 0, result.output
    block = result.stdout.split("\n\n")
    fake = next(b for b in block if b.startswith("fakesms"))
    assert fake.splitlines() == [
        "fakesms  (unknown package, plugin tests.cli.fakesms)",
        "  A Twilio-shaped SMS API for tests",
        "  channels: sms",
        "  sms recipients: an E.164 phone number, like +15551234567",
        "  config:",
        "    base_url    text, required, env NORQ_FAKESMS_BASE_URL",
        "    key_sid     text, optional, default KEY123, env NORQ_FAKESMS_KEY_SID",
        "    key_secret  secret text, required, env NORQ_FAKESMS_KEY_SECRET",
        "    token       secret text, optional, env NORQ_FAKESMS_TOKEN",
        "    sender      text, optional, default +15005550006, env NORQ_FAKESMS_SENDER",
    ]
    console = next(b for b in block if b.startswith("console"))
    assert console.splitlines()[0].startswith("console  (norq ")
    # Choices, defaults and descriptions come from the provider's config model.
    assert console.splitlines()[-1] == (
        "    stream  one of stdout, stderr, optional, default stdout"
        " - Where notifications are printed"
    )
    twilio = next(b for b in block if b.startswith("twilio"))
    assert "  sms recipients: an E.164 phone number, like +15551234567" in twilio.splitlines()
    assert (
        "    validity_period        integer (>= 1, <= 14400), optional, "
        "env NORQ_TWILIO_VALIDITY_PERIOD - Seconds a message may queue"
    ) in twilio.splitlines()


def test_providers_as_json(run: Run, fakesms: None) -> None:
    result = run("providers", "--json")
    listing = {item["type"]: item for item in json.loads(result.stdout)}
    assert listing["console"]["package"] == "norq"
    assert listing["console"]["channels"] == ["*"]
    assert listing["twilio"]["recipients"] == {
        "sms": {"format": "an E.164 phone number", "example": "+15551234567"}
    }
    secret = next(f for f in listing["fakesms"]["config"] if f["name"] == "key_secret")
    assert secret == {
        "name": "key_secret",
        "type": "secret text",
        "choices": None,
        "required": True,
        "secret": True,
        "default": None,
        "env": "NORQ_FAKESMS_KEY_SECRET",
        "description": None,
    }
    (stream,) = listing["console"]["config"]
    assert (stream["type"], stream["choices"], stream["default"]) == (
        "one of stdout, stderr",
        ["stdout", "stderr"],
        "stdout",
    )
    assert stream["description"] == "Where notifications are printed"


def test_plugins_as_json_like_llm_plugins(run: Run) -> None:
    result = run("plugins", "--json")
    assert result.exit_code == 0, result.output
    listing = {item["name"]: item for item in json.loads(result.stdout)}
    console = listing["norq.providers.console"]
    assert console["hooks"] == ["register_providers", "register_transports"]
    assert console["providers"] == ["console"]
    assert console["package"] == "norq"


def test_plugins_plain(run: Run) -> None:
    result = run("plugins")
    assert result.exit_code == 0, result.output
    assert "norq.providers.console  (norq " in result.stdout
    assert "  hooks: register_providers" in result.stdout
    assert "  providers: console" in result.stdout


def test_a_plugin_that_fails_to_import_is_a_usage_error(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import norq.plugins
    from norq.errors import PluginError

    def broken(**kwargs: object) -> object:
        raise PluginError("plugin 'bad' (entry point 'bad:x') failed to import: boom")

    monkeypatch.setattr(norq.plugins, "get_plugin_manager", broken)
    result = run("providers")
    assert result.exit_code == 2
    assert result.stderr == "Error: plugin 'bad' (entry point 'bad:x') failed to import: boom\n"
