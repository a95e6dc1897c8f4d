"""Errors that a missing or wrong config causes say which config Norq read and where it looked."""

from __future__ import annotations

from pathlib import Path

import pytest

import norq

ANN = "+15551230001"


def test_no_config_and_a_misspelt_variable_are_named_instead_of_the_routing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {"NORQ_TWILO_ACCOUNT_SID": "AC11111111111111111111111111111111"}
    app = norq.Norq.discover(environ=environ)
    with pytest.raises(norq.MessageError) as refused:
        app.notify("sms", ANN, body="hi")
    assert str(refused.value) == (
        "channel 'sms' is not routed (routed channels: none); add `routing: {sms: <provider>}` "
        "to the config. Norq read no config file ($NORQ_CONFIG is not set and there is no "
        "./norq.yaml); NORQ_<PROVIDER>_* variables set: none; NORQ_TWILO_ACCOUNT_SID looks "
        "like NORQ_TWILIO_ACCOUNT_SID; `norq providers` lists the variables that configure "
        "each provider"
    )
    assert "AC111" not in str(refused.value)  # names, never values


def test_the_variables_found_are_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = norq.Norq.discover(environ={"NORQ_TWILIO_FROM": "+15005550006"})
    with pytest.raises(norq.MessageError, match="variables set: NORQ_TWILIO_FROM;"):
        app.notify("sms", ANN, body="hi")


def test_the_file_that_was_read_is_named(tmp_path: Path) -> None:
    path = tmp_path / "staging.yaml"
    path.write_text("providers: {console: {}}\nrouting: {chat: console}\n")
    app = norq.Norq.from_yaml(path, environ={})
    with pytest.raises(norq.MessageError, match=f"Norq read the config file {path};"):
        app.notify("sms", ANN, body="hi")


def test_jobs_without_a_celery_section_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "norq.yaml"
    path.write_text("providers: {console: {}}\nrouting: {sms: console}\n")
    app = norq.Norq.from_yaml(path, environ={})
    with pytest.raises(norq.MessageError) as refused:
        app.enqueue_many("sms", [ANN], body="hi")
    assert "background jobs need a celery: section" in str(refused.value)
    assert str(refused.value).endswith(f"Norq read the config file {path}")


def test_a_bad_provider_type_is_one_problem_not_a_cascade() -> None:
    document = {
        "providers": {"twilio": {"type": "twillio"}, "console": {}},
        "routing": {"sms": "twilio", "email": "console"},
        "templates": {"hi": {"sms": {"body": "x"}, "email": {"subject": "s", "body": "x"}}},
        "notifications": {"hi": {"channels": ["sms", "email"]}},
    }
    with pytest.raises(norq.ConfigError) as refused:
        norq.Norq.from_dict(document, environ={})
    (path, reason), *others = refused.value.errors
    assert others == []
    assert path == "providers.twilio.type"
    assert reason.startswith("unknown provider type 'twillio'")


def test_a_misspelt_variable_is_reported_beside_the_config_errors() -> None:
    environ = {"NORQ_TWILIO_ACOUNT_SID": "AC1"}
    with pytest.raises(norq.ConfigError) as refused:
        norq.Norq.from_dict({"routing": {"sms": "nowhere"}}, environ=environ)
    assert (
        "env NORQ_TWILIO_ACOUNT_SID",
        "not a variable Norq reads; did you mean NORQ_TWILIO_ACCOUNT_SID?",
    ) in refused.value.errors
