"""Slack as prepared requests: ``chat.postMessage`` with a bot token, and incoming webhooks.

Both are built once per instance (URL, headers) and add only the message in
``prepare_send``. Slack reports most failures inside an HTTP 200
(``{"ok": false, "error": ...}``), so ``read_send`` reads the body; an HTTP
error (``429`` with ``Retry-After``, ``5xx``) is read the declared way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import norq
from norq_slack.config import SlackConfig, SlackWebhookConfig
from norq_slack.errors import SLACK_ERRORS
from norq_slack.messages import SLACK_CHANNEL, check_chat, escape_text, payload

ANSWERED = frozenset({200})
JSON_UTF8 = "application/json; charset=utf-8"
_SNIPPET = 200

#: For HTTP error answers that carry Slack's JSON (``{"ok": false, "error": "ratelimited"}``).
SLACK_ERROR_FORMAT = SLACK_ERRORS.error_format(code_path="$.error", message_path="$.error")


class SlackProvider(norq.Provider[SlackConfig]):
    """Posts to a channel with ``chat.postMessage``; the receipt id is ``channel:ts``."""

    name = "slack"
    channels = frozenset({"chat"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"chat": SLACK_CHANNEL}
    env_prefix = "SLACK"
    description = "Slack Web API chat.postMessage with a bot token; Block Kit via blocks"
    message_fields: ClassVar[frozenset[str]] = frozenset(
        {
            "blocks",
            "thread_ts",
            "reply_broadcast",
            "unfurl_links",
            "unfurl_media",
            "mrkdwn",
            "username",
            "icon_emoji",
            "icon_url",
            "metadata",
        }
    )

    def __init__(self, config: SlackConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._url = f"{config.base_url}/api/chat.postMessage"
        self._headers = (
            ("Authorization", f"Bearer {config.bot_token.get_secret_value()}"),
            ("Content-Type", JSON_UTF8),
        )

    def check_message(self, message: norq.Message) -> None:
        super().check_message(message)
        check_chat(message)

    def text_escape(self, fields: Mapping[str, Any]) -> Callable[[str], str]:
        return escape_text

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=self._url,
            headers=self._headers,
            json={"channel": message.to, **payload(message)},
            success_statuses=ANSWERED,
            retry=self.retry,
            errors=SLACK_ERROR_FORMAT,
        )

    def read_send(self, request: Any, response: norq.Response) -> norq.SendResult:
        if response.status not in ANSWERED:
            return super().read_send(request, response)
        try:
            data = json.loads(response.body)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
            return _unreadable(response)
        if data["ok"]:
            channel, ts = data.get("channel"), data.get("ts")
            if not isinstance(channel, str) or not isinstance(ts, str):
                return _unreadable(response)
            # ts alone is unique only within its channel.
            return norq.SendResult.accepted(f"{channel}:{ts}", data=data)
        error = str(data.get("error") or "unknown_error")
        return SLACK_ERRORS.failed(error, f"Slack: {error}{_details(data)}", data=data)


class SlackWebhookProvider(norq.Provider[SlackWebhookConfig]):
    """Posts through an incoming webhook; Slack returns no id, so receipts have none."""

    name = "slack_webhook"
    channels = frozenset({"chat"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"chat": SLACK_CHANNEL}
    description = "Slack incoming webhook (the URL is the secret); Block Kit via blocks"
    # An app's incoming webhook posts as the app, into its own channel.
    message_fields: ClassVar[frozenset[str]] = frozenset(
        {"blocks", "unfurl_links", "unfurl_media", "mrkdwn"}
    )
    # Slack answers a webhook post with "ok" and nothing to look the message up by.
    issues_message_ids = False

    def __init__(self, config: SlackWebhookConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._url = config.webhook_url.get_secret_value()

    def check_message(self, message: norq.Message) -> None:
        super().check_message(message)
        check_chat(message)
        channel = self.config.channel
        if channel is not None and message.to != channel:
            raise norq.MessageError(
                f"{self.instance!r} is an incoming webhook that posts only to {channel}, not "
                f"{message.to}: send to {channel}, or route this channel to a bot-token provider",
                code="invalid_recipient",
            )

    def text_escape(self, fields: Mapping[str, Any]) -> Callable[[str], str]:
        return escape_text

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=self._url,
            headers=(("Content-Type", JSON_UTF8),),
            json=payload(message),
            success_statuses=ANSWERED,
            retry=self.retry,
            secret_url=True,
        )

    def read_send(self, request: Any, response: norq.Response) -> norq.SendResult:
        answer = response.body[:_SNIPPET].decode("utf-8", "replace").strip()
        if response.status in ANSWERED:
            if answer != "ok":
                return _unreadable(response)
            return norq.SendResult.accepted(None)
        result = super().read_send(request, response)
        if answer not in SLACK_ERRORS:
            return result
        return SLACK_ERRORS.failed(
            answer,
            f"Slack webhook: HTTP {response.status} {answer}",
            retry_after=result.retry_after,
            retry_at=result.retry_at,
            data=result.data,
        )


def _details(data: dict[str, Any]) -> str:
    """Slack's explanations of an error (``invalid_blocks`` says which block and why)."""
    metadata = data.get("response_metadata")
    said = metadata.get("messages") if isinstance(metadata, dict) else None
    notes = [str(note) for note in said] if isinstance(said, list) else []
    return f" ({'; '.join(notes)})" if notes else ""


def _unreadable(response: norq.Response) -> norq.SendResult:
    snippet = response.body[:_SNIPPET].decode("utf-8", "replace").strip()
    # Accepted or not, nobody can tell: neither retry nor fail over.
    return norq.SendResult.failed(
        norq.ErrorCode.BAD_RESPONSE,
        f"Slack answered HTTP {response.status} with something unexpected: {snippet or '(empty)'}",
    )
