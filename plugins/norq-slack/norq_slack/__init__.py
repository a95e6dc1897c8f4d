"""norq-slack: Slack's chat.postMessage and incoming webhooks, as a separately installed plugin.

It registers the provider types ``slack`` and ``slack_webhook`` (channel
``chat``) through the ``norq`` entry-point group. See docs/providers/slack.md.
"""

from __future__ import annotations

import norq
from norq_slack.config import SlackConfig, SlackWebhookConfig
from norq_slack.errors import SLACK_ERRORS
from norq_slack.provider import SlackProvider, SlackWebhookProvider

__version__ = "0.1.0"
__all__ = [
    "SLACK_ERRORS",
    "SlackConfig",
    "SlackProvider",
    "SlackWebhookConfig",
    "SlackWebhookProvider",
]


@norq.hookimpl
def register_providers(register: norq.Register) -> None:
    register(SlackProvider)
    register(SlackWebhookProvider)
