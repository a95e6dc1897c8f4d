"""The JSON Schema of ``norq.yaml``, for editors: ``norq config schema`` prints it.

It is built from the same pydantic models that validate a config: the core
sections, and for each installed provider type an entry whose ``config`` is
that provider's model. An entry named after a type may leave ``type:`` out,
as in the YAML. Where YAML would give a number, a boolean or a fixed choice,
``${VAR}`` text is accepted too, since interpolation fills it in at load time.
The schema helps an editor complete and check a file as it is typed; Norq
itself still validates every config at load time.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from norq.config import NorqDocument, RateLimitSettings
from norq.plugins import RegisteredProvider
from norq.retry import RetryPolicy

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# What interpolation replaces: ${NAME} or ${NAME:-default}, anywhere in the text.
VARIABLE = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"}


class _YamlJsonSchema(GenerateJsonSchema):
    """pydantic's generator, with ``${VAR}`` text allowed where YAML gives a non-string."""

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        return _or_variable(super().int_schema(schema))

    def float_schema(self, schema: core_schema.FloatSchema) -> JsonSchemaValue:
        return _or_variable(super().float_schema(schema))

    def bool_schema(self, schema: core_schema.BoolSchema) -> JsonSchemaValue:
        return _or_variable(super().bool_schema(schema))

    def literal_schema(self, schema: core_schema.LiteralSchema) -> JsonSchemaValue:
        return _or_variable(super().literal_schema(schema))


def _or_variable(schema: JsonSchemaValue) -> JsonSchemaValue:
    return {"anyOf": [schema, VARIABLE]}


def config_json_schema(registry: dict[str, RegisteredProvider]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``norq.yaml`` for the installed providers."""
    types = sorted(registry)
    models: list[type[BaseModel]] = [NorqDocument, *(registry[t].cls.Config for t in types)]
    refs, top = models_json_schema(
        [(model, "validation") for model in dict.fromkeys(models)],
        ref_template="#/$defs/{model}",
        schema_generator=_YamlJsonSchema,
    )
    definitions: dict[str, Any] = top.get("$defs", {})
    document = definitions.pop(_name(refs[(NorqDocument, "validation")]))
    definitions.pop("ProviderSettings", None)  # replaced by one entry per provider type
    retry = {"$ref": f"#/$defs/{RetryPolicy.__name__}"}
    rate_limits = {"$ref": f"#/$defs/{RateLimitSettings.__name__}"}

    def entry(type_name: str) -> dict[str, Any]:
        model = registry[type_name].cls.Config
        ref = refs[(model, "validation")]
        # Norq rejects unknown top-level keys even for a model that ignores them.
        definitions[_name(ref)]["additionalProperties"] = False
        config = {**ref, "description": registry[type_name].cls.description or type_name}
        required = ["config"] if any(i.is_required() for i in model.model_fields.values()) else []
        return {
            "additionalProperties": False,
            "properties": {
                "type": {"const": type_name},
                "config": config,
                "retry": retry,
                "rate_limits": rate_limits,
            },
            "required": required,
        }

    # `type:` picks the entry's schema, so an editor reports the key that is
    # wrong rather than "matches none of the providers".
    by_type = [
        {"if": {"type": "object", "required": ["type"], "properties": {"type": {"const": t}}}}
        | {"then": entry(t)}
        for t in types
    ]
    type_key = {"enum": types, "description": "Provider type; defaults to the instance name"}

    def instance(default_type: str | None) -> dict[str, Any]:
        if default_type is None:
            return {
                "type": "object",
                "required": ["type"],
                "properties": {"type": type_key},
                "allOf": by_type,
            }
        untyped = {"if": {"type": "object", "not": {"required": ["type"]}}}
        return {
            "type": ["object", "null"],
            "properties": {"type": type_key},
            "allOf": [*by_type, untyped | {"then": entry(default_type)}],
        }

    document["properties"]["providers"] = {
        "type": "object",
        "description": "Provider instances by name",
        "properties": {name: instance(name) for name in types},
        "additionalProperties": instance(None),
    }
    return {
        **document,
        "$schema": DIALECT,
        "title": "norq.yaml",
        "description": "A Norq configuration: providers, routing, templates, executor, webhooks, "
        "telemetry. "
        f"Provider types: {', '.join(types) or 'none installed'}.",
        "$defs": definitions,
    }


def _name(ref: JsonSchemaValue) -> str:
    return str(ref["$ref"]).rpartition("/")[2]
