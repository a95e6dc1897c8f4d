"""docs/providers/telegram.md says what the code does, and its examples run as written."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import yaml
from norq_telegram import TELEGRAM_ERRORS, TelegramProvider

import norq
from norq.config import env_var_names, field_keys
from tests_telegram.conftest import BOT_TOKEN

DOC = (Path(__file__).parents[3] / "docs" / "providers" / "telegram.md").read_text("utf-8")


def blocks(language: str) -> list[str]:
    """The page's runnable blocks in ``language`` (those not marked to be skipped)."""
    found = re.findall(r"(<!-- docs: skip[^>]*-->\n)?```" + language + r"\n(.*?)```", DOC, re.S)
    return [text for skip, text in found if not skip]


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


def test_the_configuration_examples_load() -> None:
    for block in blocks("yaml"):
        document = yaml.safe_load(block)
        if "providers" not in document:
            continue
        norq.Norq.from_dict(document, environ={"TELEGRAM_BOT_TOKEN": BOT_TOKEN}).close()


def test_the_python_examples_run_as_written() -> None:
    (example,) = blocks("python")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example, "telegram.md", "exec"), {})
    shown = printed.getvalue()
    assert "POST https://api.telegram.org/bot***/sendMessage" in shown
    assert '"disable_notification": true' in shown
    assert BOT_TOKEN.split(":")[1] not in shown
