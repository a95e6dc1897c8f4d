"""docs/plugins.md: its marked examples run, and its dispositions table is the code's."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from norq.retry import DEFAULT_DISPOSITIONS

DOC = Path(__file__).parents[2] / "docs" / "plugins.md"
MARK = "<!-- run by tests/seam/test_plugin_docs.py -->"


def examples() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(re.escape(MARK) + r"\n```python\n(.*?)```", text, re.S)


@pytest.fixture
def module() -> Iterator[types.ModuleType]:
    """The examples, run in order as one module (the way a plugin author pastes them)."""
    namespace = types.ModuleType("plugin_docs_examples")
    sys.modules[namespace.__name__] = namespace
    try:
        for code in examples():
            exec(compile(code, str(DOC), "exec"), namespace.__dict__)
        yield namespace
    finally:
        del sys.modules[namespace.__name__]


def test_the_marked_examples_cover_every_new_section() -> None:
    assert len(examples()) == 8


def test_the_examples_run_and_their_tests_pass(module: types.ModuleType) -> None:
    tests = [value for name, value in vars(module).items() if name.startswith("test_")]
    assert len(tests) == 3
    for test in tests:
        test()


def test_the_example_transport_serves_the_example_provider(module: types.ModuleType) -> None:
    from norq import Norq
    from norq.plugins import get_plugin_manager

    pm = get_plugin_manager()
    plugin = module.PostalPlugin()
    pm.register(plugin)
    try:
        document = {"providers": {"postal": {}}, "routing": {"email": "postal"}}
        with Norq.from_dict(document, plugin_manager=pm, environ={}) as app:
            receipts = list(app.notify_many("email", ["a@n.test", "b@n.test"], body="hi"))
            outbox = app.executor.transport("outbox")
            assert outbox.session is not None
            assert len(outbox.session) == 2
    finally:
        pm.unregister(plugin)
    assert [r.message_id for r in receipts] == ["Q1", "Q2"]


def test_the_dispositions_table_is_the_default_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- dispositions table")[1].split("\n\n")[0]
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \|", table, re.M)
    assert dict(rows) == {str(code): str(d) for code, d in DEFAULT_DISPOSITIONS.items()}
