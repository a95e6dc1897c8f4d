"""docs/providers/vonage.md says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from norq_vonage import VONAGE_STATUSES, VonageProvider

from norq.config import env_var_names, field_keys

DOC = (Path(__file__).parents[3] / "docs" / "providers" / "vonage.md").read_text("utf-8")


def test_the_status_table_matches_the_code() -> None:
    rows = re.findall(r"^\| `(\d+)` \| [^|]+ \| `([a-z_]+)` \| (\w+) \|", DOC, re.MULTILINE)
    assert {status: (code, disposition) for status, code, disposition in rows} == {
        status: (str(meaning.code), str(meaning.disposition))
        for status, meaning in VONAGE_STATUSES.items()
    }
    assert len(rows) == len(VONAGE_STATUSES)


def test_every_config_key_and_environment_variable_is_documented() -> None:
    for key in field_keys(VonageProvider.Config):
        assert f"| `{key}` |" in DOC
    for variable in env_var_names(VonageProvider).values():
        assert f"`{variable}`" in DOC


def test_per_message_options_are_documented() -> None:
    for option in VonageProvider.message_fields:
        assert f"| `{option}` |" in DOC
