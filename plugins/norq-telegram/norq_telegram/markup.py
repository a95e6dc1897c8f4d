"""Telegram's three parse modes and how text is made to appear literally in each.

A message's ``parse_mode`` decides how Telegram reads its text: none (plain
text, nothing to escape), ``MarkdownV2``, ``HTML``, or the legacy
``Markdown``. Template data inserted into the text is escaped for the mode
in force, so a name holding ``*``, ``<b>`` or ``[link](https://...)``
arrives as those characters, not as formatting or a disguised link.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

ParseMode = Literal["MarkdownV2", "HTML", "Markdown"]
PARSE_MODES: tuple[ParseMode, ...] = ("MarkdownV2", "HTML", "Markdown")

# The Bot API: "any character with code between 1 and 126 can be escaped
# anywhere with a preceding '\'", and these must be, outside code entities.
_MARKDOWN_V2_RESERVED = "\\_*[]()~`>#+-=|{}.!"
_MARKDOWN_V2 = str.maketrans({char: "\\" + char for char in _MARKDOWN_V2_RESERVED})
# Legacy Markdown has no escape for the backslash itself; these four start entities.
_MARKDOWN = str.maketrans({char: "\\" + char for char in "_*`["})
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def escape_markdown_v2(text: str) -> str:
    """``text`` as MarkdownV2 shows it literally: every reserved character after a ``\\``."""
    return text.translate(_MARKDOWN_V2)


def escape_html(text: str) -> str:
    """``text`` as Telegram's HTML shows it literally: ``&``, ``<``, ``>``, ``"`` as entities."""
    return text.translate(_HTML)


def escape_markdown(text: str) -> str:
    """``text`` as legacy Markdown shows it: ``_``, ``*``, `````` ` `````` and ``[`` escaped.

    Legacy Markdown cannot escape a ``\\`` that precedes one of them; prefer
    MarkdownV2 or HTML for text you do not control.
    """
    return text.translate(_MARKDOWN)


ESCAPES: dict[ParseMode, Callable[[str], str]] = {
    "MarkdownV2": escape_markdown_v2,
    "HTML": escape_html,
    "Markdown": escape_markdown,
}
