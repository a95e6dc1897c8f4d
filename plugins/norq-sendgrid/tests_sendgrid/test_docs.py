"""docs/providers/sendgrid.md says what the code does."""

from __future__ import annotations

from pathlib import Path

from norq_sendgrid import SendGridProvider

from norq.config import env_var_names, field_keys

DOC = (Path(__file__).parents[3] / "docs" / "providers" / "sendgrid.md").read_text("utf-8")


def test_every_config_key_and_environment_variable_is_documented() -> None:
    for key in field_keys(SendGridProvider.Config):
        assert f"| `{key}` |" in DOC
    for variable in env_var_names(SendGridProvider).values():
        assert f"`{variable}`" in DOC


def test_per_message_options_are_documented() -> None:
    for option in SendGridProvider.message_fields:
        assert f"| `{option}` |" in DOC
