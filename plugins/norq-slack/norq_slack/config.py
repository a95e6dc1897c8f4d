"""``providers.<name>.config`` for the two Slack provider types, checked once at load time."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr

import norq
from norq_slack.messages import SLACK_CHANNEL

DEFAULT_BASE_URL = "https://slack.com"
TOKEN_PREFIXES = ("xoxb-", "xoxp-")


def _token(value: SecretStr) -> SecretStr:
    # The value is a secret: the message says what is wrong, never what was given.
    if not value.get_secret_value().startswith(TOKEN_PREFIXES):
        raise ValueError(
            "is not a Slack bot token: it starts with xoxb- (Bot User OAuth Token, under "
            "OAuth & Permissions in your app's settings)"
        )
    return value


def _webhook_url(value: SecretStr) -> SecretStr:
    try:
        norq.HTTP_URL.validate(value.get_secret_value())
    except ValueError:
        raise ValueError(
            "is not an http(s) URL: copy the Webhook URL from your app's Incoming Webhooks "
            "page (https://hooks.slack.com/services/...)"
        ) from None
    return value


class SlackConfig(norq.ProviderConfig):
    """``type: slack``: the Web API with a bot token."""

    bot_token: Annotated[SecretStr, AfterValidator(_token)] = Field(
        description="Bot User OAuth Token (xoxb-...), with the chat:write scope"
    )
    base_url: Annotated[str, norq.BASE_URL] = Field(
        default=DEFAULT_BASE_URL, description="Web API host (tests, sandbox)"
    )


class SlackWebhookConfig(norq.ProviderConfig):
    """``type: slack_webhook``: an incoming webhook; the URL is the credential."""

    webhook_url: Annotated[SecretStr, AfterValidator(_webhook_url)] = Field(
        description="The incoming webhook's URL (a secret: anyone holding it can post)"
    )
    channel: Annotated[str, SLACK_CHANNEL] | None = Field(
        default=None,
        description="The channel the webhook posts to; recipients must then name it",
    )
