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
from urllib.parse import urlsplit

import norq

#: Slack truncates longer text and refuses far longer with msg_too_long.
MAX_TEXT = 40_000
MAX_BLOCKS = 50
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{8,}")
# A user's ID (W... on Enterprise Grid): chat.postMessage posts to the app's
# direct message with that user.
_USER_ID = re.compile(r"[UW][A-Z0-9]{8,}")
# Slack channel names: lowercase letters, digits, hyphens and underscores, up to 80.
_CHANNEL_NAME = re.compile(r"#[a-z0-9_\-]{1,80}")
_TS = re.compile(r"\d+\.\d+")
# Emoji names as Slack writes them, between colons (:rocket:, :+1:, :flag-fr:).
_EMOJI = re.compile(r":[a-z0-9_+\-']+:")

#: True/False options, sent as given.
SWITCHES = ("reply_broadcast", "unfurl_links", "unfurl_media", "mrkdwn")
#: Options sent as given once checked, in the order they go into the JSON.
PASSED = ("thread_ts", *SWITCHES, "username", "icon_emoji", "icon_url")


def escape_text(text: str) -> str:
    """``text`` as Slack shows it literally: ``&``, ``<`` and ``>`` as entities.

    Slack reads ``<...>`` as a mention (``<!channel>``, ``<@U0123>``) or a
    link (``<https://evil.test|Re-login>``), so template data escaped this way
    can neither ping everyone nor disguise a link. Slack has no escape for its
    formatting characters (``*bold*``, ``_italic_``): send ``mrkdwn=False``
    to show those literally too.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _channel(to: str) -> str:
    if _CHANNEL_ID.fullmatch(to) or _CHANNEL_NAME.fullmatch(to) or _USER_ID.fullmatch(to):
        return to
    raise ValueError(
        "use its ID (C0123ABCD, from the channel's details), its name with '#', lowercase, "
        "or a user's ID (U0123ABCD) for a direct message"
    )


#: A channel ID (``C0123ABCD``), ``#name`` or user ID (``U0123ABCD``, a direct
#: message): the recipients of both provider types.
SLACK_CHANNEL = norq.AddressFormat("a Slack channel", "#alerts", _channel)


def check_text(message: norq.Message) -> None:
    text = message.body or ""
    if len(text) > MAX_TEXT:
        raise norq.MessageError(
            f"the text is {len(text)} characters; Slack accepts at most {MAX_TEXT}: shorten it "
            "or attach the rest as a file",
            code="message_too_long",
        )


def _json_text(name: str, value: Any) -> Any:
    """``value``, or what it holds if it is JSON text (as the command line gives it)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise norq.MessageError(f"{name} is text but not JSON: {exc}") from None


def blocks(value: Any) -> list[dict[str, Any]]:
    """Block Kit blocks as a list of mappings; JSON text (from the command line) is read."""
    value = _json_text("blocks", value)
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


def metadata(value: Any) -> dict[str, Any]:
    """Message metadata: ``{"event_type": ..., "event_payload": {...}}``, or its JSON text."""
    value = _json_text("metadata", value)
    example = '{"event_type": "deploy_finished", "event_payload": {"service": "api"}}'
    if not isinstance(value, Mapping):
        raise norq.MessageError(f"metadata must be a mapping such as {example}")
    extra = sorted(set(value) - {"event_type", "event_payload"})
    if extra:
        raise norq.MessageError(
            f"metadata holds only event_type and event_payload, not {', '.join(map(str, extra))}"
        )
    event_type = value.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise norq.MessageError(f"metadata needs an event_type, text, as in {example}")
    if "event_payload" not in value:
        raise norq.MessageError(f"metadata needs an event_payload, as in {example}")
    if not isinstance(value["event_payload"], Mapping):
        raise norq.MessageError(f"metadata's event_payload must be a mapping, as in {example}")
    try:
        json.dumps(value["event_payload"])
    except (TypeError, ValueError) as exc:
        raise norq.MessageError(f"metadata's event_payload is not JSON: {exc}") from None
    return {"event_type": event_type, "event_payload": dict(value["event_payload"])}


def check_options(fields: Mapping[str, Any]) -> None:
    if "blocks" in fields:
        blocks(fields["blocks"])
    if "metadata" in fields:
        metadata(fields["metadata"])
    thread_ts = fields.get("thread_ts")
    if thread_ts is not None and not (isinstance(thread_ts, str) and _TS.fullmatch(thread_ts)):
        raise norq.MessageError(
            f"thread_ts must be a message timestamp such as '1417671948.000006' (the ts of a "
            f"receipt's message_id), got {thread_ts!r}"
        )
    for switch in SWITCHES:
        if switch in fields and not isinstance(fields[switch], bool):
            raise norq.MessageError(f"{switch} must be True or False, got {fields[switch]!r}")
    if "reply_broadcast" in fields and thread_ts is None:
        raise norq.MessageError(
            "reply_broadcast needs thread_ts: it shows a thread reply in the channel too"
        )
    _check_identity(fields)


def _check_identity(fields: Mapping[str, Any]) -> None:
    """The name and icon a bot token may post under."""
    username = fields.get("username", "-")
    if not isinstance(username, str) or not username.strip():
        raise norq.MessageError(f"username must be non-empty text, got {username!r}")
    emoji, url = fields.get("icon_emoji"), fields.get("icon_url")
    if emoji is not None and url is not None:
        raise norq.MessageError("give icon_emoji or icon_url, not both: Slack shows only one")
    if emoji is not None and not (isinstance(emoji, str) and _EMOJI.fullmatch(emoji)):
        raise norq.MessageError(
            f"icon_emoji must be an emoji name between colons, such as ':rocket:', got {emoji!r}"
        )
    if url is not None and not (
        isinstance(url, str) and urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc
    ):
        raise norq.MessageError(f"icon_url must be an http(s) URL of an image, got {url!r}")


def payload(message: norq.Message) -> dict[str, Any]:
    """The JSON both APIs take: ``text`` and the message's checked options."""
    body: dict[str, Any] = {"text": message.body or ""}
    fields = message.fields
    if "blocks" in fields:
        body["blocks"] = blocks(fields["blocks"])
    for option in PASSED:
        if option in fields:
            body[option] = fields[option]
    if "metadata" in fields:
        body["metadata"] = metadata(fields["metadata"])
    return body
