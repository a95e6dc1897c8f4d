"""``norq config schema``: the JSON Schema of norq.yaml, checked with jsonschema."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.cli.conftest import Run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "norq.example.yaml").read_text("utf-8"))


@pytest.fixture
def validator(run: Run, fakesms: None) -> jsonschema.Draft202012Validator:
    result = run("config", "schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(validator: jsonschema.Draft202012Validator, document: Any) -> list[tuple[str, str]]:
    return sorted(
        (".".join(map(str, error.absolute_path)), error.message)
        for error in validator.iter_errors(document)
    )


def test_the_example_config_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    assert problems(validator, EXAMPLE) == []


def test_the_configs_in_the_docs_are_valid(validator: jsonschema.Draft202012Validator) -> None:
    text = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    # Blocks with `{...}` are outlines, not configs.
    blocks = [
        yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "..." not in b
    ]
    documents = [b for b in blocks if isinstance(b, dict) and b.keys() & {"providers", "executor"}]
    assert documents
    for document in documents:
        assert problems(validator, document) == []


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (
            lambda d: d["providers"]["twilio"]["config"].update(acount_sid="AC1"),
            "providers.twilio.config",
            "'acount_sid' was unexpected",
        ),
        (lambda d: d.update(rooting={}), "", "'rooting' was unexpected"),
        (
            lambda d: d["providers"]["twilio"].update(retyr={}),
            "providers.twilio",
            "'retyr' was unexpected",
        ),
        (
            lambda d: d["providers"].update(pager={"type": "pigeon"}),
            "providers.pager.type",
            # The installed types follow; plugins come and go, so only the start is fixed.
            "'pigeon' is not one of [",
        ),
        (
            lambda d: d["providers"]["console"].update(config={"stream": "pipe"}),
            "providers.console.config.stream",
            "'pipe' is not valid",
        ),
        (
            lambda d: d.update(executor={"max_connections": 0}),
            "executor.max_connections",
            "is not valid",
        ),
    ],
)
def test_a_wrong_key_or_value_is_caught(
    validator: jsonschema.Draft202012Validator, change: Any, where: str, message: str
) -> None:
    document = copy.deepcopy(EXAMPLE)
    change(document)
    found = problems(validator, document)
    assert [path for path, _ in found] == [where]
    assert message in found[0][1]


def test_a_plugin_provider_is_checked_by_its_type(
    validator: jsonschema.Draft202012Validator,
) -> None:
    document = {
        "providers": {
            "texts": {"type": "fakesms", "config": {"base_url": "http://x", "key_secret": "s"}},
            "broken": {"type": "fakesms", "config": {"base_url": "http://x"}},
        }
    }
    assert problems(validator, document) == [
        ("providers.broken.config", "'key_secret' is a required property")
    ]


def test_variables_are_accepted_where_yaml_gives_numbers_and_choices(
    validator: jsonschema.Draft202012Validator,
) -> None:
    document = {
        "executor": {"timeout": "${TIMEOUT:-5}", "async_transport": "${TRANSPORT}"},
        "providers": {"console": {"config": {"stream": "${STREAM}"}, "retry": {"jitter": 0.2}}},
    }
    assert problems(validator, document) == []
    document["executor"]["timeout"] = "soon"
    assert [path for path, _ in problems(validator, document)] == ["executor.timeout"]
