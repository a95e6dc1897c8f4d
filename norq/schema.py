"""Config schemas: how a provider declares ``providers.<name>.config`` and how Norq checks it.

A schema is a plain dataclass. Its type hints say what each key accepts, and
:func:`setting`, passed as a field's ``metadata``, adds what a type hint cannot:
a YAML spelling that is not a Python name (``from``), numeric bounds, a check
function, a description for ``norq providers``. Norq validates a document
against a schema once, at load time, and reports every problem at once, each
with its dotted path. A ``__post_init__`` that raises ``ValueError`` adds rules
that tie keys together; it runs only when every key passed its own checks.

Norq does this itself rather than with pydantic because a config is validated
once per process, and importing pydantic cost more start-up time than the rest
of ``norq send --dry-run`` together (docs/performance.md). YAML needs few
types: text, numbers, booleans, lists, mappings and nested sections.

Values from ``${VAR}`` interpolation and ``NORQ_*`` variables are always
strings, so numbers and booleans are also accepted as their usual spellings
(``"30"``, ``"0.5"``, ``"true"``). Error messages never repeat the rejected
value: it may be a secret typed into the wrong key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar, Union

T = TypeVar("T")

_METADATA_KEY = "norq"
_NONE = type(None)
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


class Secret:
    """A credential: its value is kept out of ``repr``, ``str``, logs and errors.

    Read it with :meth:`get_secret_value` where the request is built, and
    nowhere else.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """What :func:`setting` attaches to a dataclass field."""

    alias: str | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    check: Callable[[Any], Any] | None = None
    parse: Callable[[Any], Any] | None = None
    description: str | None = None


def setting(
    *,
    alias: str | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    check: Callable[[Any], Any] | None = None,
    parse: Callable[[Any], Any] | None = None,
    description: str | None = None,
) -> dict[str, Setting]:
    """Field metadata for a schema: ``field(default=None, metadata=setting(alias="from"))``.

    ``alias`` is the key as written in YAML when it is not a Python name (the
    Python name is accepted too). ``ge``/``gt``/``le``/``lt`` bound a number.
    ``check`` receives the converted value and returns the value to keep, or
    raises ``ValueError`` with a message saying what is wrong and how to fix it.
    ``parse`` replaces the conversion by type: it receives the value as written
    (for a type YAML has no spelling for, such as an amount of money) and
    returns the typed value or raises ``ValueError``.
    """
    return {_METADATA_KEY: Setting(alias, ge, gt, le, lt, check, parse, description)}


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """One key of a schema, as tools describe it."""

    name: str
    key: str
    annotation: Any
    required: bool
    default: Any
    secret: bool
    description: str | None
    rules: Setting


class Invalid(ValueError):
    """A document does not match its schema; ``errors`` lists ``(path, message)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__(
            "; ".join(f"{path}: {message}" if path else message for path, message in errors)
        )
        self.errors = errors


_fields_cache: dict[type, tuple[Field, ...]] = {}


def fields(schema: type) -> tuple[Field, ...]:
    """The keys of a schema dataclass, in declaration order, with their resolved types."""
    cached = _fields_cache.get(schema)
    if cached is not None:
        return cached
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        raise TypeError(f"{schema!r} is not a dataclass; a config schema must be one")
    hints = typing.get_type_hints(schema)
    found = []
    for item in dataclasses.fields(schema):
        if not item.init:
            continue
        rules = item.metadata.get(_METADATA_KEY, Setting())
        annotation = hints[item.name]
        has_default = item.default is not dataclasses.MISSING
        has_factory = item.default_factory is not dataclasses.MISSING
        found.append(
            Field(
                name=item.name,
                key=rules.alias or item.name,
                annotation=annotation,
                required=not (has_default or has_factory),
                default=item.default if has_default else None,
                secret=_mentions_secret(annotation),
                description=rules.description,
                rules=rules,
            )
        )
    result = tuple(found)
    _fields_cache[schema] = result
    return result


def keys(schema: type) -> list[str]:
    """The keys a YAML mapping may use for ``schema``."""
    return [item.key for item in fields(schema)]


def validate(schema: type[T], data: Any, path: str = "") -> T:
    """``data`` (a parsed YAML mapping) as an instance of ``schema``, or :class:`Invalid`."""
    errors: list[tuple[str, str]] = []
    result = _build(schema, data, path, errors)
    if errors:
        raise Invalid(errors)
    return typing.cast(T, result)


def secrets_in(value: Any) -> list[str]:
    """Every :class:`Secret` value inside a schema instance (for redacting output)."""
    if isinstance(value, Secret):
        return [value.get_secret_value()]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [
            s for item in dataclasses.fields(value) for s in secrets_in(getattr(value, item.name))
        ]
    if isinstance(value, list | tuple):
        return [s for item in value for s in secrets_in(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in secrets_in(item)]
    return []


def describe(annotation: Any) -> str:
    """A type as the user reads it in an error: ``an integer``, ``a list of strings``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in args)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(arg) for arg in args if arg is not _NONE)
    if origin in (list, tuple, Sequence):
        return f"a list of {_plural(describe(args[0]))}" if args else "a list"
    if origin in (dict, Mapping):
        return f"a mapping of {_plural(describe(args[-1]))}" if args else "a mapping"
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return "a mapping"
    return _SCALAR_NAMES.get(annotation, f"a {getattr(annotation, '__name__', annotation)}")


_SCALAR_NAMES: dict[Any, str] = {
    str: "a string",
    Secret: "a string",
    int: "an integer",
    float: "a number",
    Decimal: "a decimal number",
    bool: "true or false",
}


def _plural(text: str) -> str:
    # "a string" -> "strings", "an integer" -> "integers"; good enough for our types.
    for article in ("a ", "an "):
        if text.startswith(article) and " " not in text[len(article) :]:
            return text[len(article) :] + "s"
    return text


class _Failed:
    """Marks a value that did not convert (its error is already recorded)."""


_FAILED = _Failed()


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _build(schema: type, data: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    if not isinstance(data, Mapping):
        errors.append(
            (path, f"expected a mapping of keys ({', '.join(keys(schema))}), got {_kind(data)}")
        )
        return _FAILED
    known = fields(schema)
    by_key = {item.key: item for item in known}
    by_key.update({item.name: item for item in known if item.name not in by_key})
    count = len(errors)
    given: dict[str, tuple[str, Any]] = {}
    for key, value in data.items():
        item = by_key.get(key) if isinstance(key, str) else None
        if item is None:
            allowed = ", ".join(item.key for item in known)
            errors.append((_join(path, key), f"unknown key; allowed keys: {allowed}"))
            continue
        if item.name in given:
            errors.append(
                (_join(path, key), f"given twice, as {given[item.name][0]!r} and {key!r}; keep one")
            )
            continue
        given[item.name] = (key, value)

    values: dict[str, Any] = {}
    for item in known:
        if item.name not in given:
            if item.required:
                errors.append((_join(path, item.key), "required, but missing"))
            continue
        key, raw = given[item.name]
        where = _join(path, key)
        value = (
            _parse(item.rules.parse, raw, where, errors)
            if item.rules.parse and raw is not None
            else _convert(item.annotation, raw, where, errors)
        )
        if value is _FAILED:
            continue
        value = _apply_rules(item.rules, value, where, errors)
        if value is not _FAILED:
            values[item.name] = value
    if len(errors) > count:
        return _FAILED
    try:
        return schema(**values)
    except ValueError as exc:
        errors.append((path, str(exc)))
        return _FAILED


def _parse(parse: Callable[[Any], Any], raw: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    try:
        return parse(raw)
    except ValueError as exc:
        errors.append((path, str(exc)))
        return _FAILED


def _apply_rules(rules: Setting, value: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    if value is None:
        return None
    problem = _out_of_bounds(rules, value)
    if problem is not None:
        errors.append((path, problem))
        return _FAILED
    if rules.check is not None:
        try:
            return rules.check(value)
        except ValueError as exc:
            errors.append((path, str(exc)))
            return _FAILED
    return value


def _out_of_bounds(rules: Setting, value: Any) -> str | None:
    if rules.ge is not None and value < rules.ge:
        return f"must be greater than or equal to {_number(rules.ge)}"
    if rules.gt is not None and value <= rules.gt:
        return f"must be greater than {_number(rules.gt)}"
    if rules.le is not None and value > rules.le:
        return f"must be less than or equal to {_number(rules.le)}"
    if rules.lt is not None and value >= rules.lt:
        return f"must be less than {_number(rules.lt)}"
    return None


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _convert(annotation: Any, value: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any or annotation is object:
        return value
    if origin in (Union, types.UnionType):
        return _convert_union(annotation, args, value, path, errors)
    if value is None:
        errors.append((path, f"is null; give {describe(annotation)} or remove the key"))
        return _FAILED
    if origin is Literal:
        # Same type as well as equal: true is not the choice 1, nor 1.0 the choice 1.
        if any(type(value) is type(choice) and value == choice for choice in args):
            return value
        errors.append((path, f"must be {describe(annotation)}"))
        return _FAILED
    if origin in (list, tuple, Sequence):
        return _convert_list(annotation, origin, args, value, path, errors)
    if origin in (dict, Mapping):
        return _convert_mapping(annotation, args, value, path, errors)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return _build(annotation, value, path, errors)
    scalar = _SCALARS.get(annotation)
    if scalar is not None:
        converted = scalar(value)
        if converted is _FAILED:
            errors.append((path, f"expected {describe(annotation)}, got {_kind(value)}"))
        return converted
    if isinstance(annotation, type) and isinstance(value, annotation):
        return value
    errors.append((path, f"expected {describe(annotation)}, got {_kind(value)}"))
    return _FAILED


def _convert_union(
    annotation: Any, args: tuple[Any, ...], value: Any, path: str, errors: list[tuple[str, str]]
) -> Any:
    if value is None:
        if _NONE in args:
            return None
        errors.append((path, f"is null; give {describe(annotation)}"))
        return _FAILED
    choices = [arg for arg in args if arg is not _NONE]
    if len(choices) == 1:
        return _convert(choices[0], value, path, errors)
    for choice in choices:
        attempt: list[tuple[str, str]] = []
        converted = _convert(choice, value, path, attempt)
        if not attempt:
            return converted
    errors.append((path, f"expected {describe(annotation)}, got {_kind(value)}"))
    return _FAILED


def _convert_list(
    annotation: Any,
    origin: Any,
    args: tuple[Any, ...],
    value: Any,
    path: str,
    errors: list[tuple[str, str]],
) -> Any:
    if not isinstance(value, list | tuple):
        errors.append((path, f"expected {describe(annotation)}, got {_kind(value)}"))
        return _FAILED
    item_type = args[0] if args else Any
    count = len(errors)
    items = [_convert(item_type, item, f"{path}[{i}]", errors) for i, item in enumerate(value)]
    if len(errors) > count:
        return _FAILED
    return tuple(items) if origin is tuple else items


def _convert_mapping(
    annotation: Any, args: tuple[Any, ...], value: Any, path: str, errors: list[tuple[str, str]]
) -> Any:
    if not isinstance(value, Mapping):
        errors.append((path, f"expected {describe(annotation)}, got {_kind(value)}"))
        return _FAILED
    value_type = args[1] if len(args) == 2 else Any
    count = len(errors)
    converted: dict[str, Any] = {}
    for key, item in value.items():
        where = _join(path, key)
        if not isinstance(key, str):
            errors.append((where, f"keys must be strings; quote {key!r} in the YAML"))
            continue
        converted[key] = _convert(value_type, item, where, errors)
    if len(errors) > count:
        return _FAILED
    return converted


def _to_str(value: Any) -> Any:
    return value if isinstance(value, str) else _FAILED


def _to_secret(value: Any) -> Any:
    return Secret(value) if isinstance(value, str) else _FAILED


def _to_int(value: Any) -> Any:
    if isinstance(value, bool):
        return _FAILED
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return _FAILED
    return _FAILED


def _to_float(value: Any) -> Any:
    if isinstance(value, bool):
        return _FAILED
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return _FAILED
        # "nan" and "inf" parse, but no setting means them.
        return number if number - number == 0 else _FAILED
    return _FAILED


def _to_decimal(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return _FAILED
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return _FAILED
    return number if number.is_finite() else _FAILED


def _to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return _FAILED


_SCALARS: dict[Any, Callable[[Any], Any]] = {
    str: _to_str,
    Secret: _to_secret,
    int: _to_int,
    float: _to_float,
    Decimal: _to_decimal,
    bool: _to_bool,
}


def _mentions_secret(annotation: Any) -> bool:
    if annotation is Secret:
        return True
    return any(_mentions_secret(arg) for arg in typing.get_args(annotation))
