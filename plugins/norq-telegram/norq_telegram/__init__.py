"""norq-telegram: Telegram's Bot API ``sendMessage``, as a separately installed plugin.

It registers the provider type ``telegram`` (channel ``chat``) through the
``norq`` entry-point group. See docs/providers/telegram.md.
"""

from __future__ import annotations

import norq
from norq_telegram.config import TelegramConfig
from norq_telegram.errors import TELEGRAM_ERRORS
from norq_telegram.markup import escape_html, escape_markdown, escape_markdown_v2
from norq_telegram.messages import TELEGRAM_CHAT
from norq_telegram.provider import TelegramProvider

__version__ = "0.1.0"
__all__ = [
    "TELEGRAM_CHAT",
    "TELEGRAM_ERRORS",
    "TelegramConfig",
    "TelegramProvider",
    "escape_html",
    "escape_markdown",
    "escape_markdown_v2",
]


@norq.hookimpl
def register_providers(register: norq.Register) -> None:
    register(TelegramProvider)
