"""The failover config docs/providers/slack.md recommends, and template data in Slack's markup."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml

import norq
from norq.plugins import get_plugin_manager
from tests_slack.conftest import BOT_TOKEN, WEBHOOK_URL, MakeNorq, document, posted, slack, webhook

DOC = (Path(__file__).parents[3] / "docs" / "providers" / "slack.md").read_text("utf-8")
POST_URL = "https://slack.com/api/chat.postMessage"
ENVIRON = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_WEBHOOK_URL": WEBHOOK_URL}


def docs_failover_config() -> dict[str, Any]:
    """The first YAML block of the page: both provider types, chat: [slack, alerts-hook]."""
    block = re.search(r"```yaml\n(.*?)```", DOC, re.S)
    assert block is not None
    config: dict[str, Any] = yaml.safe_load(block.group(1))
    assert config["routing"] == {"chat": ["slack", "alerts-hook"]}
    assert config["providers"]["alerts-hook"]["config"]["channel"] == "#alerts"
    return config


def docs_app() -> norq.Norq:
    return norq.Norq.from_dict(
        docs_failover_config(),
        environ=ENVIRON,
        plugin_manager=get_plugin_manager(load_entry_points=True),
    )


@respx.mock
def test_the_docs_failover_config_delivers_to_another_channel_through_the_primary() -> None:
    bot = respx.post(POST_URL).mock(return_value=httpx.Response(200, json=posted("C0DEPLOYS")))
    hook = respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
    with docs_app() as app:
        receipt = app.notify(
            "chat", "#deploys", template="deployed", data={"service": "api", "version": "1.2"}
        )
    assert (receipt.ok, receipt.provider, receipt.skipped) == (True, "slack", ())
    assert receipt.message_id == "C0DEPLOYS:1417671948.000006"
    assert json.loads(bot.calls.last.request.content)["text"] == "Deployed api 1.2"
    assert not hook.called


@respx.mock
def test_the_webhook_takes_over_for_its_own_channel() -> None:
    respx.post(POST_URL).mock(
        return_value=httpx.Response(200, json={"ok": False, "error": "invalid_auth"})
    )
    hook = respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
    with docs_app() as app:
        receipt = app.notify("chat", "#alerts", body="Disk almost full")
    assert (receipt.ok, receipt.provider) == (True, "alerts-hook")
    assert hook.call_count == 1


@respx.mock
def test_a_failover_webhook_bound_elsewhere_is_skipped_and_the_receipt_says_so() -> None:
    respx.post(POST_URL).mock(
        return_value=httpx.Response(200, json={"ok": False, "error": "invalid_auth"})
    )
    hook = respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
    with docs_app() as app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("chat", "#deploys", body="Deployed")
    receipt = caught.value.receipt
    assert (receipt.provider, receipt.error and receipt.error.code) == (
        "slack",
        "invalid_credentials",
    )
    (skipped,) = receipt.skipped
    assert skipped.provider == "alerts-hook"
    assert "posts only to #alerts, not #deploys" in skipped.reason
    assert not hook.called


def test_a_message_no_provider_of_the_chain_can_take_is_refused_with_every_reason() -> None:
    with docs_app() as app, pytest.raises(norq.MessageError) as refused:
        app.prepare("chat", "#deploys", body="x" * 40_001)
    assert "at most 40000" in str(refused.value)


def test_the_dry_run_shows_the_primary_for_another_channel() -> None:
    with docs_app() as app:
        prepared = app.prepare("chat", "#deploys", body="hi")
    assert prepared.provider == "slack"


def test_an_option_only_the_primary_takes_does_not_refuse_the_message() -> None:
    with docs_app() as app:
        prepared = app.prepare("chat", "#deploys", body="hi", username="deploy-bot")
    assert prepared.provider == "slack"


HOSTILE = "<!channel> <@U0ADMIN> <https://evil.test|Re-login> & co"
ESCAPED = "&lt;!channel&gt; &lt;@U0ADMIN&gt; &lt;https://evil.test|Re-login&gt; &amp; co"


@pytest.mark.parametrize("provider", ["slack", "hook"])
@pytest.mark.parametrize(
    "body", ["Deploy by {{ user }}", "Deploy by {{ user | trim }}"], ids=["fast", "jinja"]
)
def test_template_data_cannot_mention_everyone_or_disguise_a_link(
    make_norq: MakeNorq, provider: str, body: str
) -> None:
    doc = {
        **document(provider, slack=slack(), hook=webhook()),
        "templates": {"deploy": {"chat": {"body": body}}},
    }
    prepared = make_norq(doc).prepare("chat", "#deploys", template="deploy", data={"user": HOSTILE})
    assert isinstance(prepared.request, norq.PreparedRequest)
    assert prepared.request.json is not None
    assert prepared.request.json["text"] == f"Deploy by {ESCAPED}"


def test_a_template_marks_a_trusted_value_safe(make_norq: MakeNorq) -> None:
    doc = {
        **document(),
        "templates": {
            "deploy": {"chat": {"body": "{{ link | safe }} by {{ user }}: <!here> look"}}
        },
    }
    data = {"link": "<https://ci.example.com/42|build 42>", "user": "<!channel>"}
    prepared = make_norq(doc).prepare("chat", "#deploys", template="deploy", data=data)
    assert isinstance(prepared.request, norq.PreparedRequest)
    assert prepared.request.json is not None
    # The template's own text is the author's: its <!here> stays a mention.
    assert prepared.request.json["text"] == (
        "<https://ci.example.com/42|build 42> by &lt;!channel&gt;: <!here> look"
    )


def test_a_body_given_directly_is_sent_as_written(make_norq: MakeNorq) -> None:
    prepared = make_norq().prepare("chat", "#deploys", body="<!here> deploy done")
    assert isinstance(prepared.request, norq.PreparedRequest)
    assert prepared.request.json is not None
    assert prepared.request.json["text"] == "<!here> deploy done"


def test_the_escaping_example_of_the_docs_renders_as_the_docs_say(make_norq: MakeNorq) -> None:
    section = DOC.split("## Template data is escaped", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    doc = {**document(), **yaml.safe_load(block.group(1))}
    data = {"name": "<!channel> & co", "profile": "<https://crm.example.com/42|CRM>"}
    prepared = make_norq(doc).prepare("chat", "#signups", template="signup", data=data)
    assert isinstance(prepared.request, norq.PreparedRequest)
    assert prepared.request.json is not None
    said = re.search(r"Slack gets `(.*?)`:", " ".join(section.split()))
    assert said is not None
    assert prepared.request.json["text"] == said.group(1)
