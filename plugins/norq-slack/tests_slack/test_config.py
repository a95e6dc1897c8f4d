"""Slack's two configs are checked at load time, without repeating a rejected secret."""

from __future__ import annotations

from typing import Any

import pytest

import norq
from tests_slack.conftest import document, slack, webhook


def problems(doc: dict[str, Any]) -> str:
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict(doc, environ={})
    return str(caught.value)


@pytest.mark.parametrize(
    ("entry", "path", "complaint"),
    [
        (slack(bot_token="abc-NOT-A-TOKEN"), "providers.p.config.bot_token", "starts with xoxb-"),
        (slack(base_url="slack.com"), "providers.p.config.base_url", "not an http(s) URL"),
        (
            webhook(webhook_url="hooks/T/B/NOT-A-URL"),
            "providers.p.config.webhook_url",
            "Webhook URL",
        ),
        (webhook(channel="alerts"), "providers.p.config.channel", "not a Slack channel"),
        ({"type": "slack", "config": {}}, "providers.p.config.bot_token", ""),
        ({"type": "slack_webhook", "config": {}}, "providers.p.config.webhook_url", ""),
    ],
)
def test_bad_config_names_the_key_and_the_fix(
    entry: dict[str, Any], path: str, complaint: str
) -> None:
    text = problems(document("p", p=entry))
    assert path in text
    assert complaint in text
    for secret in ("abc-NOT-A-TOKEN", "NOT-A-URL"):
        assert secret not in text


def test_both_types_serve_the_chat_channel() -> None:
    app = norq.Norq.from_dict(document(["bot", "hook"], bot=slack(), hook=webhook()), environ={})
    assert app.routing["chat"] == ("bot", "hook")
