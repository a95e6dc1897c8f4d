"""docs/providers/webpush.md says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from norq_webpush import WEBPUSH_ERRORS, WebPushProvider

from norq.config import field_keys

DOC = (Path(__file__).parents[3] / "docs" / "providers" / "webpush.md").read_text("utf-8")


def test_the_error_table_matches_the_code() -> None:
    rows = re.findall(r"^\| `(\d{3})` \| `([a-z_]+)` \| (\w+) \|", DOC, re.MULTILINE)
    assert {status: (code, disposition) for status, code, disposition in rows} == {
        status: (str(m.code), str(m.disposition)) for status, m in WEBPUSH_ERRORS.items()
    }
    assert len(rows) == len(WEBPUSH_ERRORS)


def test_every_config_key_and_option_is_documented() -> None:
    for key in field_keys(WebPushProvider.Config):
        assert f"| `{key}` |" in DOC
    for option in WebPushProvider.message_fields:
        assert f"| `{option}` |" in DOC
