"""The base of the config models Norq validates: YAML-friendly, strict about keys.

Providers' config models may subclass :class:`ProviderConfig`; so do the
config file's own sections and :class:`~norq.retry.RetryPolicy`, which is
read from a provider's ``retry:`` section.
"""

from __future__ import annotations

import types
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class ProviderConfig(BaseModel):
    """A convenient base for a provider's config model, with the settings Norq's own use.

    Unknown keys are errors, the model is frozen, a YAML number is accepted
    where text is expected (``sender: 12345``), the Python name of an aliased
    field is accepted next to its alias (``from_`` for ``from``), and rejected
    values stay out of ``str(ValidationError)``. A plain ``pydantic.BaseModel``
    works as well; Norq still reports unknown top-level keys for it.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
        validate_by_name=True,
        hide_input_in_errors=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _yaml_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None:
            return value
        annotation = cls.model_fields[info.field_name].annotation
        # pydantic's lax mode reads `true` as 1; in a config that is always a slip.
        if isinstance(value, bool):
            kind = _number_kind(annotation)
            if kind is not None:
                raise ValueError(f"expected {kind}, got true/false")
        # ${VAR} always gives text: "2" is the choice 2 as it is the integer 2.
        if isinstance(value, str):
            for choice in _literal_choices(annotation):
                numeric = isinstance(choice, int | float) and not isinstance(choice, bool)
                if numeric and value.strip() == str(choice):
                    return choice
        return value


def _literal_choices(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(choice for arg in get_args(annotation) for choice in _literal_choices(arg))
    return ()


def _number_kind(annotation: Any) -> str | None:
    """``"an integer"`` or ``"a number"`` for a numeric field, else ``None``."""
    if annotation is int:
        return "an integer"
    if annotation in (float, Decimal):
        return "a number"
    if get_origin(annotation) in (Union, types.UnionType):
        return next(filter(None, map(_number_kind, get_args(annotation))), None)
    return None
