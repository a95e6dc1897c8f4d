"""``providers.<name>.config`` for ``type: telegram``, checked once at load time."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr

import norq
from norq_telegram.markup import ParseMode

DEFAULT_BASE_URL = "https://api.telegram.org"
# What @BotFather hands out: the bot's numeric id, a colon, and a 35-character secret.
_BOT_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{30,64}")


def _bot_token(value: SecretStr) -> SecretStr:
    # The value is a secret: the message says what is wrong, never what was given.
    if not _BOT_TOKEN.fullmatch(value.get_secret_value()):
        raise ValueError(
            "is not a Telegram bot token: @BotFather gives one like 123456789:AAE..., the "
            "bot's number, a colon and 35 letters, digits, '-' or '_'"
        )
    return value


class TelegramConfig(norq.ProviderConfig):
    """``type: telegram``: a bot of the Bot API."""

    bot_token: Annotated[SecretStr, AfterValidator(_bot_token)] = Field(
        description="The bot's token from @BotFather (123456789:AAE...)"
    )
    parse_mode: ParseMode | None = Field(
        default=None,
        description="How Telegram reads the text: MarkdownV2, HTML, Markdown (legacy) or plain",
    )
    base_url: Annotated[str, norq.BASE_URL] = Field(
        default=DEFAULT_BASE_URL, description="Bot API server (a local Bot API server, sandbox)"
    )
