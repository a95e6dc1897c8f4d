"""norq.schema: config dataclasses validated once, every problem reported with its path."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import norq
from norq import schema
from norq.schema import Invalid, Secret, setting, validate


def _even(value: int) -> int:
    if value % 2:
        raise ValueError("must be even; use 2, 4, 6...")
    return value


def _cents(value: Any) -> int:
    if not isinstance(value, str) or not value.startswith("$"):
        raise ValueError('write an amount like "$1.25"')
    return round(float(value[1:]) * 100)


@dataclass(frozen=True)
class Inner:
    level: Literal["low", "high"] = "low"
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Sample:
    name: str = field(metadata=setting(description="What to call it"))
    token: Secret | None = None
    count: int = field(default=1, metadata=setting(ge=1, le=10))
    ratio: float = field(default=0.5, metadata=setting(gt=0, lt=1))
    enabled: bool = False
    price: Decimal | None = None
    sender: str | None = field(default=None, metadata=setting(alias="from"))
    pairs: int = field(default=2, metadata=setting(check=_even))
    cost: int | None = field(default=None, metadata=setting(parse=_cents))
    route: str | list[str] = "default"
    inner: Inner = field(default_factory=Inner)
    labels: dict[str, int] = field(default_factory=dict)
    codes: tuple[int, ...] = ()
    anything: Any = None

    def __post_init__(self) -> None:
        if self.name == "forbidden" and self.enabled:
            raise ValueError("a forbidden sample cannot be enabled; set enabled: false")


def errors_of(data: Any, schema_type: type = Sample) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        validate(schema_type, data, "cfg")
    return dict(caught.value.errors)


def test_a_valid_mapping_becomes_the_dataclass() -> None:
    sample = validate(
        Sample,
        {
            "name": "n",
            "token": "t0k",
            "count": 3,
            "ratio": 0.25,
            "enabled": True,
            "price": "0.05",
            "from": "+15551234567",
            "pairs": 4,
            "cost": "$1.25",
            "route": ["a", "b"],
            "inner": {"level": "high", "tags": ["x"]},
            "labels": {"a": 1},
            "codes": [1, 2],
            "anything": {"free": ["form"]},
        },
    )
    assert sample == Sample(
        name="n",
        token=Secret("t0k"),
        count=3,
        ratio=0.25,
        enabled=True,
        price=Decimal("0.05"),
        sender="+15551234567",
        pairs=4,
        cost=125,
        route=["a", "b"],
        inner=Inner(level="high", tags=["x"]),
        labels={"a": 1},
        codes=(1, 2),
        anything={"free": ["form"]},
    )


def test_defaults_fill_what_is_not_given() -> None:
    assert validate(Sample, {"name": "n"}) == Sample(name="n")


def test_strings_from_the_environment_convert_to_numbers_and_booleans() -> None:
    sample = validate(
        Sample, {"name": "n", "count": " 7 ", "ratio": "0.75", "enabled": "Yes", "pairs": "6"}
    )
    assert (sample.count, sample.ratio, sample.enabled, sample.pairs) == (7, 0.75, True, 6)
    assert validate(Sample, {"name": "n", "enabled": "off"}).enabled is False
    assert validate(Sample, {"name": "n", "count": 4.0}).count == 4


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    errors = errors_of(
        {
            "count": 0,
            "ratio": "nan",
            "enabled": "maybe",
            "inner": {"level": "medium", "tags": ["ok", 3]},
            "labels": {"a": "one"},
            "colour": "blue",
        }
    )
    assert errors == {
        "cfg.colour": "unknown key; allowed keys: name, token, count, ratio, enabled, price, "
        "from, pairs, cost, route, inner, labels, codes, anything",
        "cfg.name": "required, but missing",
        "cfg.count": "must be greater than or equal to 1",
        "cfg.ratio": "expected a number, got a string",
        "cfg.enabled": "expected true or false, got a string",
        "cfg.inner.level": "must be one of 'low', 'high'",
        "cfg.inner.tags[1]": "expected a string, got a number",
        "cfg.labels.a": "expected an integer, got a string",
    }


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"count": 11}, "count", "must be less than or equal to 10"),
        ({"ratio": 0}, "ratio", "must be greater than 0"),
        ({"ratio": 1}, "ratio", "must be less than 1"),
        ({"count": True}, "count", "expected an integer, got a boolean"),
        ({"count": 1.5}, "count", "expected an integer, got a number"),
        ({"count": None}, "count", "is null; give an integer or remove the key"),
        ({"name": None}, "name", "is null; give a string or remove the key"),
        ({"pairs": 3}, "pairs", "must be even; use 2, 4, 6..."),
        ({"cost": "1.25"}, "cost", 'write an amount like "$1.25"'),
        ({"price": "cheap"}, "price", "expected a decimal number, got a string"),
        ({"price": "Infinity"}, "price", "expected a decimal number, got a string"),
        ({"route": 5}, "route", "expected a string or a list of strings, got a number"),
        ({"codes": "1,2"}, "codes", "expected a list of integers, got a string"),
        ({"labels": ["a"]}, "labels", "expected a mapping of integers, got a list"),
        ({"labels": {1: 1}}, "labels.1", "keys must be strings; quote 1 in the YAML"),
        ({"inner": "high"}, "inner", "expected a mapping of keys (level, tags), got a string"),
        ({"from": "a", "sender": "b"}, "sender", "given twice, as 'from' and 'sender'; keep one"),
        ({"token": 12345}, "token", "expected a string, got a number"),
    ],
)
def test_one_bad_value(data: dict[str, Any], path: str, message: str) -> None:
    assert errors_of({"name": "n", **data}) == {f"cfg.{path}": message}


def test_the_python_name_of_an_aliased_key_is_accepted_too() -> None:
    assert validate(Sample, {"name": "n", "sender": "x"}).sender == "x"


def test_a_rule_across_keys_is_reported_at_the_section() -> None:
    errors = errors_of({"name": "forbidden", "enabled": True})
    assert errors == {"cfg": "a forbidden sample cannot be enabled; set enabled: false"}


def test_rules_across_keys_wait_until_every_key_is_valid() -> None:
    # __post_init__ never sees a half-converted value.
    assert errors_of({"name": "forbidden", "enabled": True, "count": 0}) == {
        "cfg.count": "must be greater than or equal to 1"
    }


def test_rules_across_keys_wait_for_unknown_keys_too() -> None:
    assert errors_of({"name": "forbidden", "enabled": True, "colour": "red"}) == {
        "cfg.colour": "unknown key; allowed keys: name, token, count, ratio, enabled, price, "
        "from, pairs, cost, route, inner, labels, codes, anything"
    }


def test_a_document_that_is_not_a_mapping() -> None:
    assert errors_of(["name"]) == {
        "cfg": "expected a mapping of keys (name, token, count, ratio, enabled, price, from, "
        "pairs, cost, route, inner, labels, codes, anything), got a list"
    }


def test_literal_does_not_take_a_boolean_for_a_number() -> None:
    @dataclass(frozen=True)
    class Flag:
        level: Literal[0, 1] = 0

    assert validate(Flag, {"level": 1}).level == 1
    assert errors_of({"level": True}, Flag) == {"cfg.level": "must be one of 0, 1"}


def test_a_schema_must_be_a_dataclass() -> None:
    class NotOne:
        name: str

    with pytest.raises(TypeError, match="not a dataclass"):
        validate(NotOne, {})


def test_fields_describe_the_schema_for_tools() -> None:
    described = {item.key: item for item in schema.fields(Sample)}
    assert described["name"].required
    assert described["name"].description == "What to call it"
    assert not described["count"].required
    assert described["count"].default == 1
    assert described["token"].secret
    assert not described["name"].secret
    assert described["from"].name == "sender"
    assert described["inner"].default is None  # a factory default is not a plain value


def test_secrets_never_show_and_are_found_for_redaction() -> None:
    secret = Secret("s3cr3t-value")
    assert "s3cr3t" not in repr(secret)
    assert "s3cr3t" not in str(secret)
    sample = validate(Sample, {"name": "n", "token": "s3cr3t-value"})
    assert "s3cr3t" not in repr(sample)
    assert schema.secrets_in(sample) == ["s3cr3t-value"]
    assert schema.secrets_in({"a": [Secret("x")], "b": (Secret("y"),)}) == ["x", "y"]


def test_secret_equality_and_hash_follow_the_value() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert len({Secret("a"), Secret("a")}) == 1


def test_public_api_exports_the_schema_helpers() -> None:
    assert norq.Secret is Secret
    assert norq.setting is setting


# -- properties ----------------------------------------------------------------------

WRONG_TYPES = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.text(max_size=3))
)


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_an_integer_is_accepted_as_itself_or_as_text_inside_its_bounds(number: int) -> None:
    for written in (number, str(number)):
        if 1 <= number <= 10:
            assert validate(Sample, {"name": "n", "count": written}).count == number
        else:
            with pytest.raises(Invalid) as caught:
                validate(Sample, {"name": "n", "count": written})
            assert [path for path, _ in caught.value.errors] == ["count"]


def _error_text(data: dict[str, Any]) -> str:
    try:
        validate(Sample, data)
    except Invalid as exc:
        return str(exc)
    return ""


@given(st.text(min_size=8, max_size=40).filter(lambda text: text.strip() == text))
def test_rejected_values_are_never_repeated_in_errors(value: str) -> None:
    # A secret pasted into the wrong key must not end up in a log.
    for key in ("count", "ratio", "enabled", "inner", "codes", "labels", "route"):
        data: dict[str, Any] = {"name": "n", key: value if key != "route" else [value, 1]}
        # A value that is a piece of the message itself ("a string" in "got a
        # string") is found there whatever the code does: not a leak.
        marker = "\x00"
        neutral = {"name": "n", key: marker if key != "route" else [marker, 1]}
        assume(value not in _error_text(neutral))
        assert value not in _error_text(data)


@given(WRONG_TYPES)
def test_non_text_is_never_a_string(value: Any) -> None:
    with pytest.raises(Invalid):
        validate(Sample, {"name": value})


@given(st.dictionaries(st.text(max_size=5), st.integers(), max_size=5))
def test_mappings_of_integers_round_trip(labels: dict[str, int]) -> None:
    assert validate(Sample, {"name": "n", "labels": labels}).labels == labels
