"""docs/providers/twilio.md says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from norq.config import env_var_names, field_keys
from norq.providers.twilio import TWILIO_ERROR_CODES, TwilioProvider
from norq.providers.twilio.status import STATUS_WORDS

DOC = (Path(__file__).parents[2] / "docs" / "providers" / "twilio.md").read_text("utf-8")


def test_error_table_matches_the_code_map() -> None:
    rows = re.findall(r"^\| `(\d{5})` \| `([a-z_]+)` \|", DOC, re.MULTILINE)
    assert dict(rows) == {code: str(norq_code) for code, norq_code in TWILIO_ERROR_CODES.items()}
    assert len(rows) == len(TWILIO_ERROR_CODES)


def test_every_environment_variable_is_documented() -> None:
    for variable in env_var_names(TwilioProvider).values():
        assert f"`{variable}`" in DOC


def test_every_config_key_is_documented() -> None:
    for key in field_keys(TwilioProvider.Config):
        assert f"`{key}`" in DOC


def test_every_status_word_is_documented() -> None:
    for word, status in STATUS_WORDS.items():
        assert f"`{word}`" in DOC
        assert f"| `{status}` |" in DOC


def test_per_message_options_are_documented() -> None:
    for option in TwilioProvider.message_fields:
        assert f"| `{option}` |" in DOC
