"""What a Slack message may hold, checked before any request, and its JSON.

Both provider types post the same JSON: ``text`` (the rendered template or
body; with blocks it is the notification fallback) and optional Block Kit
``blocks``. Block contents are Slack's to judge (``invalid_blocks``); Norq
checks the shape that is never valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import norq

#: Slack truncates longer text and refuses far longer with msg_too_long.
MAX_TEXT = 40_000
MAX_BLOCKS = 50
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{8,}")
# Slack channel names: lowercase letters, digits, hyphens and underscores, up to 80.
_CHANNEL_NAME = re.compile(r"#[a-z0-9_\-]{1,80}")
_TS = re.compile(r"\d+\.\d+")


def _channel(to: str) -> str:
    if _CHANNEL_ID.fullmatch(to) or _CHANNEL_NAME.fullmatch(to):
        return to
    raise ValueError(
        "use its ID (C0123ABCD, from the channel's details) or its name with '#', lowercase"
    )


#: A channel ID (``C0123ABCD``) or ``#name``: the recipients of both provider types.
SLACK_CHANNEL = norq.AddressFormat("a Slack channel", "#alerts", _channel)


def check_text(message: norq.Message) -> None:
    text = message.body or ""
    if len(text) > MAX_TEXT:
        raise norq.MessageError(
            f"the text is {len(text)} characters; Slack accepts at most {MAX_TEXT}: shorten it "
            "or attach the rest as a file",
            code="message_too_long",
        )


def blocks(value: Any) -> list[dict[str, Any]]:
    """Block Kit blocks as a list of mappings; JSON text (from the command line) is read."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise norq.MessageError(f"blocks is text but not JSON: {exc}") from None
    if isinstance(value, Mapping) and isinstance(value.get("blocks"), list):
        # Block Kit Builder's payload: {"blocks": [...]}.
        value = value["blocks"]
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence) or not value:
        raise norq.MessageError(
            'blocks must be a non-empty list of Block Kit blocks, e.g. [{"type": "section", '
            '"text": {"type": "mrkdwn", "text": "*Deployed*"}}]'
        )
    if len(value) > MAX_BLOCKS:
        raise norq.MessageError(f"blocks has {len(value)} blocks; Slack accepts at most 50")
    for index, block in enumerate(value):
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise norq.MessageError(
                f"blocks[{index}] must be a mapping with a 'type' (section, header, divider...)"
            )
    return [dict(block) for block in value]


def check_chat(message: norq.Message) -> None:
    """What both provider types require: text within Slack's limit, valid options."""
    check_text(message)
    check_options(message.fields)


def check_options(fields: Mapping[str, Any]) -> None:
    if "blocks" in fields:
        blocks(fields["blocks"])
    thread_ts = fields.get("thread_ts")
    if thread_ts is not None and not (isinstance(thread_ts, str) and _TS.fullmatch(thread_ts)):
        raise norq.MessageError(
            f"thread_ts must be a message timestamp such as '1417671948.000006' (the ts of a "
            f"receipt's message_id), got {thread_ts!r}"
        )
    if "unfurl_links" in fields and not isinstance(fields["unfurl_links"], bool):
        raise norq.MessageError(
            f"unfurl_links must be True or False, got {fields['unfurl_links']!r}"
        )


def payload(message: norq.Message) -> dict[str, Any]:
    """The JSON both APIs take: ``text`` and the message's checked options."""
    body: dict[str, Any] = {"text": message.body or ""}
    fields = message.fields
    if "blocks" in fields:
        body["blocks"] = blocks(fields["blocks"])
    for option in ("thread_ts", "unfurl_links"):
        if option in fields:
            body[option] = fields[option]
    return body
