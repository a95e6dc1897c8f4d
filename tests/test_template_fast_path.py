"""Plain templates ("text {{ name }} text") skip jinja's render set-up; same output."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norq.templates import Templates

PLAIN = [
    "Your code is {{ code }}",
    "{{ a }}{{ b }}",
    "no variables at all",
    "trailing newline {{ a }}\n",
    "  {{- a -}}  and  {{ b }}  ",
    "{% raw %}{{ not a variable }}{% endraw %} {{ a }}",
    "{# a comment #}Hi {{ a }}",
    "line one\nline two {{ a }}\n\n",
    'literal braces { } {"k": 1} }{ and {{ a }} {0} {b!r}',
]
NOT_PLAIN = [
    "{{ a | upper }}",
    "{{ a.b }}",
    "{% if a %}yes{% endif %}",
    "{{ a ~ b }}",
    "{{ 'literal' }}",
]


def compile_one(source: str) -> Any:
    errors: list[tuple[str, str]] = []
    templates = Templates.compile({"t": {"sms": {"body": source}}}, errors)
    assert not errors
    return templates._compiled[("t", "sms")]["body"]


@pytest.mark.parametrize("source", PLAIN)
@pytest.mark.parametrize("value", ["Ada", 42, 3.5, None, True, "", "<b>&amp;</b>", "é ✓"])
def test_plain_templates_render_exactly_as_jinja_does(source: str, value: object) -> None:
    part = compile_one(source)
    assert part.plain is not None
    data = {"a": value, "b": value, "code": value}
    assert part.render(data) == part.template.render(data)


@pytest.mark.parametrize("source", NOT_PLAIN)
def test_other_templates_render_through_jinja(source: str) -> None:
    assert compile_one(source).plain is None


words = st.text(st.characters(blacklist_characters="{}%#"), max_size=20)


@given(st.lists(st.tuples(words, st.sampled_from(["a", "b", "code"])), max_size=6), words)
def test_any_mix_of_text_and_variables_matches_jinja(
    pieces: list[tuple[str, str]], tail: str
) -> None:
    source = "".join(f"{text}{{{{ {name} }}}}" for text, name in pieces) + tail
    part = compile_one(source)
    data = {"a": "x y", "b": 7, "code": "+1"}
    assert part.render(data) == part.template.render(data)
