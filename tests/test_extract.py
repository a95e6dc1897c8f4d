from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norq.extract import PathError, extract, parse_json, parse_path


def test_simple_field() -> None:
    assert extract({"sid": "SM1"}, "$.sid") == "SM1"


def test_nested_fields_and_indexes() -> None:
    document = {"data": [{"id": 1}, {"id": 2}]}
    assert extract(document, "$.data[1].id") == 2
    assert extract(document, "$.data[-1].id") == 2


def test_quoted_names_allow_any_key() -> None:
    assert extract({"message-id": "x", "a.b": "y"}, '$["message-id"]') == "x"
    assert extract({"a.b": "y"}, "$['a.b']") == "y"


def test_missing_steps_give_none() -> None:
    assert extract({"a": 1}, "$.b") is None
    assert extract({"a": [1]}, "$.a[3]") is None
    assert extract({"a": 1}, "$.a.b") is None
    assert extract(None, "$.a") is None


def test_root_path_is_the_document() -> None:
    assert extract([1, 2], "$") == [1, 2]


@pytest.mark.parametrize("path", ["sid", "$sid", "$.", "$[x]", "$.a..b", "$.a[1"])
def test_malformed_paths_are_rejected(path: str) -> None:
    with pytest.raises(PathError):
        parse_path(path)


def test_parse_json_tolerates_garbage() -> None:
    assert parse_json(b"") is None
    assert parse_json(b"<html>oops</html>") is None
    assert parse_json(b"\xff\xfe") is None
    assert parse_json(b'{"a": 1}') == {"a": 1}


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)


@given(st.lists(names, min_size=1, max_size=5), st.integers())
def test_extract_finds_what_was_nested(keys: list[str], value: int) -> None:
    document: object = value
    for key in reversed(keys):
        document = {key: document}
    assert extract(document, "$." + ".".join(keys)) == value


@given(st.text(max_size=30))
def test_quoted_names_round_trip(key: str) -> None:
    # Inside quotes a backslash escapes the next character, so any key can be written.
    path = '$["' + key.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    assert extract({key: 1}, path) == 1
