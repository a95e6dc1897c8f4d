"""docs/providers/slack.md says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from norq_slack import SLACK_ERRORS, SlackProvider, SlackWebhookProvider

import norq
from norq.config import env_var_names, field_keys

DOC = (Path(__file__).parents[3] / "docs" / "providers" / "slack.md").read_text("utf-8")


def test_the_error_table_matches_the_code() -> None:
    rows = re.findall(r"^\| `([a-z_]+)` \| `([a-z_]+)` \| (\w+) \|", DOC, re.MULTILINE)
    assert {name: (code, disposition) for name, code, disposition in rows} == {
        name: (str(meaning.code), str(meaning.disposition))
        for name, meaning in SLACK_ERRORS.items()
    }
    assert len(rows) == len(SLACK_ERRORS)


@pytest.mark.parametrize("provider", [SlackProvider, SlackWebhookProvider])
def test_every_config_key_option_and_variable_is_documented(
    provider: type[norq.Provider],
) -> None:
    for key in field_keys(provider.Config):
        assert f"| `{key}` |" in DOC
    for option in provider.message_fields:
        assert f"| `{option}` |" in DOC
    for variable in env_var_names(provider).values():
        assert f"`{variable}`" in DOC
