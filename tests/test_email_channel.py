"""The email channel: recipients checked by email-validator, templates with text and HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import norq
from norq.formats import EMAIL

TEMPLATES = {
    "shipped": {
        "email": {
            "subject": "{{ name }}, order {{ order }} shipped",
            "body": "Hi {{ name }}, order {{ order }} is on its way.",
            "html": "<p>Hi {{ name }}, order <b>{{ order }}</b> is on its way.</p>",
        }
    }
}


def build(**document: Any) -> norq.Norq:
    return norq.Norq.from_dict(
        {
            "providers": {"console": {"type": "console"}},
            "routing": {"email": "console"},
            **document,
        },
        environ={},
    )


@given(st.emails())
def test_well_formed_addresses_are_accepted(address: str) -> None:
    assert EMAIL.check_recipient(address) == address


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("ada", "must have an @-sign"),
        ("ada@example", "It should have a period"),
        ("a..b@example.com", "two periods in a row"),
        ("ada@exa mple.com", "invalid characters"),
        ("ada@@example.com", "@-sign"),
        ("<ada@example.com>", "not an email address"),
    ],
)
def test_malformed_addresses_are_refused_with_the_reason(address: str, why: str) -> None:
    with pytest.raises(norq.MessageError) as caught:
        EMAIL.check_recipient(address)
    assert caught.value.code == "invalid_recipient"
    assert why in str(caught.value)
    assert "name@example.com" in str(caught.value)


def test_test_domains_are_accepted_for_examples_and_test_suites() -> None:
    assert EMAIL.check_recipient("ada@example.test") == "ada@example.test"


def test_an_email_template_renders_subject_text_and_html() -> None:
    app = build(templates=TEMPLATES)
    message = app.prepare(
        "email", "ada@example.com", template="shipped", data={"name": "Ada", "order": 42}
    ).message
    assert message.body == "Hi Ada, order 42 is on its way."
    assert message.fields["subject"] == "Ada, order 42 shipped"
    assert message.fields["html"] == "<p>Hi Ada, order <b>42</b> is on its way.</p>"


def test_html_templates_escape_the_data_and_text_stays_as_written() -> None:
    app = build(templates=TEMPLATES)
    name = '<script>alert("x")</script> & Co'
    message = app.prepare(
        "email", "ada@example.com", template="shipped", data={"name": name, "order": 42}
    ).message
    assert message.fields["html"] == (
        "<p>Hi &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co, order <b>42</b>"
        " is on its way.</p>"
    )
    assert message.body == f"Hi {name}, order 42 is on its way."
    assert message.fields["subject"] == f"{name}, order 42 shipped"


def test_html_marked_safe_in_the_template_is_not_escaped() -> None:
    templates = {"note": {"email": {"subject": "s", "body": "b", "html": "{{ snippet | safe }}"}}}
    app = build(templates=templates)
    message = app.prepare(
        "email", "ada@example.com", template="note", data={"snippet": "<i>kept</i>"}
    ).message
    assert message.fields["html"] == "<i>kept</i>"


def test_email_templates_load_from_templates_dir(tmp_path: Path) -> None:
    directory = tmp_path / "templates"
    directory.mkdir()
    (directory / "shipped.email.j2").write_text("Order {{ order }} is on its way.")
    (directory / "shipped.email.subject.j2").write_text("Order {{ order }} shipped")
    (directory / "shipped.email.html.j2").write_text("<p>Order {{ order }}</p>")
    app = build(templates_dir=str(directory))
    message = app.prepare(
        "email", "ada@example.com", template="shipped", data={"order": "<42>"}
    ).message
    assert message.body == "Order <42> is on its way."
    assert message.fields["subject"] == "Order <42> shipped"
    assert message.fields["html"] == "<p>Order &lt;42&gt;</p>"


@pytest.mark.parametrize("address", ["#ops", "C0123ABC", "U024BE7LH", "https://hooks.example/x"])
def test_a_channel_no_provider_gives_a_format_takes_any_address(address: str) -> None:
    # The console declares formats for sms and email only: a chat address is
    # the chat provider's to check.
    app = norq.Norq.from_dict(
        {"providers": {"console": {}}, "routing": {"chat": "console"}}, environ={}
    )
    assert app.prepare("chat", address, body="hi").message.to == address
