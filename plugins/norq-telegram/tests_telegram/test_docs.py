"""docs/providers/telegram.md says what the code does (tests/docs runs its examples)."""

from __future__ import annotations

import re
from pathlib import Path

from norq_telegram import TELEGRAM_ERRORS, TelegramProvider

from norq.config import env_var_names, field_keys

DOC = (Path(__file__).parents[3] / "docs" / "providers" / "telegram.md").read_text("utf-8")


def test_the_error_table_matches_the_code() -> None:
    rows = re.findall(r"^\| `([^`]+)` \| `([a-z_]+)` \| (\w+) \|$", DOC, re.MULTILINE)
    assert {key: (code, disposition) for key, code, disposition in rows} == {
        key: (str(meaning.code), str(meaning.disposition))
        for key, meaning in TELEGRAM_ERRORS.items()
    }
    assert len(rows) == len(TELEGRAM_ERRORS)


def test_every_config_key_option_and_variable_is_documented() -> None:
    for key in field_keys(TelegramProvider.Config):
        assert f"| `{key}` |" in DOC
    for option in TelegramProvider.message_fields:
        assert f"| `{option}` |" in DOC
    for variable in env_var_names(TelegramProvider).values():
        assert f"`{variable}`" in DOC
