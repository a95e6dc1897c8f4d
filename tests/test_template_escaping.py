"""Template data in a provider's marked-up text is escaped for that markup, unless trusted.

A provider declares how its text escapes (``Provider.text_escape``); the
templates apply it to every value a ``body`` template inserts, through jinja
and through the plain fast path alike, and never to the template's own text.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from norq.templates import Templates


def brackets(text: str) -> str:
    """A stand-in markup whose only special characters are [ and ]."""
    return text.replace("[", "(").replace("]", ")")


def compile_one(body: str, **parts: str) -> Templates:
    errors: list[tuple[str, str]] = []
    templates = Templates.compile({"t": {"chat": {"body": body, **parts}}}, errors)
    assert errors == []
    return templates


@pytest.mark.parametrize(
    "body",
    ["[b]{{ name }}[/b]", "[b]{{ name | trim }}[/b]"],
    ids=["plain-fast-path", "through-jinja"],
)
def test_the_data_is_escaped_and_the_template_text_is_not(body: str) -> None:
    rendered = compile_one(body).render("t", "chat", {"name": "[i]Ada[/i]"}, escape=brackets)
    assert rendered["body"] == "[b](i)Ada(/i)[/b]"


@pytest.mark.parametrize(
    "body", ["{{ name }}", "{{ name | trim }}"], ids=["plain-fast-path", "through-jinja"]
)
def test_without_an_escape_the_data_goes_as_rendered(body: str) -> None:
    assert compile_one(body).render("t", "chat", {"name": "[i]"})["body"] == "[i]"


def test_safe_marks_a_trusted_value() -> None:
    templates = compile_one("{{ link | safe }} by {{ user }}")
    data = {"link": "[url]", "user": "[me]"}
    assert templates.render("t", "chat", data, escape=brackets)["body"] == "[url] by (me)"


@pytest.mark.parametrize(
    "body", ["{{ link }}", "{{ link | trim }}"], ids=["plain-fast-path", "through-jinja"]
)
def test_a_markup_value_in_the_data_is_trusted(body: str) -> None:
    rendered = compile_one(body).render("t", "chat", {"link": Markup("[url]")}, escape=brackets)
    assert rendered["body"] == "[url]"


def test_every_expression_is_escaped_whatever_it_computes() -> None:
    templates = compile_one("{{ a ~ b }} {{ items | join(',') }} {{ count + 1 }}")
    data = {"a": "[", "b": "]", "items": ["[x]", "y"], "count": 1}
    assert templates.render("t", "chat", data, escape=brackets)["body"] == "() (x),y 2"


def test_only_the_body_is_escaped() -> None:
    templates = compile_one("{{ x }}", title="{{ x }}")
    rendered = templates.render("t", "chat", {"x": "[x]"}, escape=brackets)
    assert rendered == {"body": "(x)", "title": "[x]"}


def test_html_parts_keep_their_own_escaping() -> None:
    errors: list[tuple[str, str]] = []
    templates = Templates.compile(
        {"t": {"email": {"body": "{{ x }}", "html": "<p>{{ x }}</p>"}}}, errors
    )
    rendered = templates.render("t", "email", {"x": "<[b]>"}, escape=brackets)
    assert rendered == {"body": "<(b)>", "html": "<p>&lt;[b]&gt;</p>"}


def test_the_escape_applies_to_its_render_only() -> None:
    templates = compile_one("{{ x }}")
    assert templates.render("t", "chat", {"x": "[x]"}, escape=brackets)["body"] == "(x)"
    assert templates.render("t", "chat", {"x": "[x]"})["body"] == "[x]"


values = st.text(max_size=20) | st.integers() | st.lists(st.text(max_size=5), max_size=3)


@given(value=values)
def test_the_fast_path_and_jinja_escape_alike(value: Any) -> None:
    fast = compile_one("<{{ v }}>").render("t", "chat", {"v": value}, escape=brackets)
    slow = compile_one("<{{ v | string }}>").render("t", "chat", {"v": value}, escape=brackets)
    assert fast == slow
    assert "[" not in fast["body"]
    assert "]" not in fast["body"]
