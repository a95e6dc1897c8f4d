"""docs/providers/apns.md says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from norq_apns import APNS_ERRORS, ApnsProvider

from norq.config import field_keys

DOC = (Path(__file__).parents[3] / "docs" / "providers" / "apns.md").read_text("utf-8")


def test_the_error_table_matches_the_code() -> None:
    rows = re.findall(r"^\| `([A-Za-z]+)` \| `([a-z_]+)` \| (\w+) \|", DOC, re.MULTILINE)
    assert {name: (code, disposition) for name, code, disposition in rows} == {
        name: (str(meaning.code), str(meaning.disposition)) for name, meaning in APNS_ERRORS.items()
    }
    assert len(rows) == len(APNS_ERRORS)


def test_every_config_key_and_option_is_documented() -> None:
    for key in field_keys(ApnsProvider.Config):
        assert f"| `{key}` |" in DOC
    for option in ApnsProvider.message_fields:
        assert f"| `{option}` |" in DOC
