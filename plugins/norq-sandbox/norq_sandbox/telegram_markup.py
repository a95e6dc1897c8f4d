"""Telegram's parse modes, read as the Bot API reads them: the text a phone shows, or why not.

The Bot API refuses a message whose markup does not parse (``Bad Request:
can't parse entities: ...``): a MarkdownV2 reserved character left
unescaped, an entity never closed, an HTML tag it does not know. The sandbox
applies the same rules, written here from the Bot API's documentation (not
borrowed from Norq), so a message that Norq escaped wrongly fails here as it
would on Telegram, and the inbox shows what the recipient would read.
"""

from __future__ import annotations

import html
import re

# MarkdownV2: characters that must be escaped outside entities.
_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
# Markdown (legacy): the characters that start an entity.
_V1_MARKERS = frozenset("_*`[")
# Tags Telegram's HTML knows, as start tags.
_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"tg-emoji", "code", "pre", "blockquote"}
)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)>")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")


class EntityError(ValueError):
    """The text does not parse; the message is Telegram's, after ``can't parse entities: ``."""


def plain_text(text: str, parse_mode: str | None) -> str:
    """What the recipient reads of ``text`` sent with ``parse_mode``; EntityError if it fails.

    The Bot API reads ``parse_mode`` ignoring case; an unknown one is a
    ``ValueError`` (Telegram: ``Bad Request: unsupported parse_mode``).
    """
    if not parse_mode:
        return text
    reader = _READERS.get(parse_mode.lower())
    if reader is None:
        raise ValueError("unsupported parse_mode")
    return reader(text)


def _offset(text: str, index: int) -> int:
    # Telegram reports positions in bytes of the UTF-8 text.
    return len(text[:index].encode("utf-8"))


def _markdown_v2(text: str) -> str:
    out: list[str] = []
    open_entities: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            if i + 1 < n and 1 <= ord(text[i + 1]) <= 126:
                out.append(text[i + 1])
                i += 2
                continue
            raise EntityError(
                "Character '\\' is reserved and must be escaped with the preceding '\\'"
            )
        if char not in _V2_RESERVED:
            out.append(char)
            i += 1
            continue
        if char == "`":
            i = _code(text, i, out)
            continue
        marker = char
        if char == "_" and text.startswith("__", i):
            marker = "__"
        elif char == "|" and text.startswith("||", i):
            marker = "||"
        elif char == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # a quotation line
            continue
        elif char == "!" and text.startswith("![", i):
            i += 1  # a custom emoji: ![👍](tg://emoji?id=...)
            continue
        if marker in ("*", "_", "__", "~", "||"):
            if open_entities and open_entities[-1][0] == marker:
                open_entities.pop()
            else:
                open_entities.append((marker, _offset(text, i)))
            i += len(marker)
            continue
        if char == "[":
            open_entities.append(("[", _offset(text, i)))
            i += 1
            continue
        if char == "]" and open_entities and open_entities[-1][0] == "[":
            start = open_entities.pop()[1]
            if not text.startswith("(", i + 1):
                raise EntityError(f"Can't find end of the entity starting at byte offset {start}")
            end = _link_end(text, i + 2)
            if end is None:
                raise EntityError(f"Can't find end of the entity starting at byte offset {start}")
            i = end + 1
            continue
        raise EntityError(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )
    if open_entities:
        raise EntityError(
            f"Can't find end of the entity starting at byte offset {open_entities[-1][1]}"
        )
    return "".join(out)


def _code(text: str, start: int, out: list[str]) -> int:
    """Reads inline code or a pre block from ``start``; returns where the text goes on."""
    fence = "```" if text.startswith("```", start) else "`"
    i = start + len(fence)
    content: list[str] = []
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "`\\":
            content.append(text[i + 1])
            i += 2
            continue
        if text.startswith(fence, i):
            body = "".join(content)
            if fence == "```" and "\n" in body:
                first, rest = body.split("\n", 1)
                body = rest if first and " " not in first else body  # a language name
            out.append(body)
            return i + len(fence)
        content.append(text[i])
        i += 1
    raise EntityError(
        f"Can't find end of the entity starting at byte offset {_offset(text, start)}"
    )


def _link_end(text: str, i: int) -> int | None:
    """The index of the ``)`` that ends a link's URL starting at ``i`` (``\\)`` escapes one)."""
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 2
            continue
        if text[i] == ")":
            return i
        i += 1
    return None


def _markdown(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in _V1_MARKERS:
            out.append(text[i + 1])
            i += 2
            continue
        if char not in _V1_MARKERS:
            out.append(char)
            i += 1
            continue
        if char == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise EntityError(
                    f"Can't find end of the entity starting at byte offset {_offset(text, i)}"
                )
            out.append(text[i + len(fence) : end])
            i = end + len(fence)
            continue
        if char == "[":
            close = text.find("](", i)
            end = text.find(")", close + 2) if close >= 0 else -1
            if end < 0:
                raise EntityError(
                    f"Can't find end of the entity starting at byte offset {_offset(text, i)}"
                )
            out.append(text[i + 1 : close])
            i = end + 1
            continue
        end = text.find(char, i + 1)
        if end < 0:
            raise EntityError(
                f"Can't find end of the entity starting at byte offset {_offset(text, i)}"
            )
        out.append(text[i + 1 : end])
        i = end + 1
    return "".join(out)


def _html(text: str) -> str:
    out: list[str] = []
    open_tags: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            entity = _ENTITY.match(text, i)
            if entity is None:
                out.append("&")  # Telegram keeps an ampersand that starts no entity
                i += 1
            else:
                out.append(html.unescape(entity.group()))
                i = entity.end()
            continue
        if char != "<":
            out.append(char)
            i += 1
            continue
        tag = _TAG.match(text, i)
        if tag is None:
            raise EntityError(f'Unsupported start tag "" at byte offset {_offset(text, i)}')
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise EntityError(f'Unsupported {kind} tag "{name}" at byte offset {_offset(text, i)}')
        if closing:
            if not open_tags or open_tags[-1][0] != name:
                raise EntityError(
                    f'Unmatched end tag at byte offset {_offset(text, i)}, expected "</'
                    f'{open_tags[-1][0] if open_tags else ""}>", found "</{name}>"'
                )
            open_tags.pop()
        else:
            open_tags.append((name, _offset(text, i)))
        i = tag.end()
    if open_tags:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1][0]}"')
    return "".join(out)


_READERS = {"markdownv2": _markdown_v2, "html": _html, "markdown": _markdown}
