"""The runnable examples of a Markdown page, read the way the docs runner runs them.

A fenced block in ``python``, ``sh``, ``console`` or ``yaml`` is an example that
runs; every other language (``text``, ``json``, ``http``, ``toml``...) is shown
only. An HTML comment on the line right above a fence changes what happens to
that block (the conventions are in the README, "Examples in the docs")::

    <!-- docs: skip REASON -->    not run; the reason is required
    <!-- docs: file PATH -->      the block's text is written to PATH (not run)
    <!-- docs: append PATH -->    the block's text is added to the end of PATH
    <!-- docs: exit N WHY -->     its last command is expected to exit with N
    <!-- docs: background -->     its commands run in the background until the page ends

and ``<!-- docs: requires REQ ... -->`` anywhere on the page adds requirements
to the environment that its ``pip install`` lines name. A comment of several
lines, ``<!-- docs: file PATH`` then the content then ``-->``, writes a file the
reader is assumed to have (an invoice to attach) without showing it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

RUNNABLE = frozenset({"python", "sh", "console", "yaml"})

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*docs:\s*(?P<verb>[a-z-]+)\s*(?P<rest>.*?)\s*-->\s*$")
_REQUIRES = re.compile(r"^\s*<!--\s*docs:\s*requires\s+(?P<rest>.*?)\s*-->\s*$")
_HIDDEN_FILE = re.compile(r"^\s*<!--\s*docs:\s*file\s+(?P<path>\S+)\s*$")
MARKER_VERBS = frozenset({"skip", "file", "append", "exit", "background"})


class MarkupError(ValueError):
    """A page uses the runner's markers wrongly; the message names the line."""


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and its markers."""

    page: Path
    line: int  # the line of the opening fence, 1-based
    language: str
    text: str
    skip: str | None = None
    file: str | None = None
    exit_code: int = 0
    append: bool = False
    background: bool = False

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.skip is None and (self.language in RUNNABLE or self.file is not None)


@dataclass(frozen=True)
class Page:
    path: Path
    blocks: list[Block]
    requires: list[str] = field(default_factory=list)

    @property
    def runnable(self) -> list[Block]:
        return [block for block in self.blocks if block.runs]


def read_page(path: Path, shown_as: Path | None = None) -> Page:
    """Parse ``path``; ``shown_as`` is the name used in messages (relative to the repository)."""
    name = shown_as or path
    lines = path.read_text("utf-8").splitlines()
    blocks: list[Block] = []
    requires: list[str] = []
    index = 0
    while index < len(lines):
        if (found := _REQUIRES.match(lines[index])) is not None:
            requires += found["rest"].split()
        hidden = _HIDDEN_FILE.match(lines[index])
        if hidden is not None:
            end = index + 1
            while end < len(lines) and lines[end].strip() != "-->":
                end += 1
            if end == len(lines):
                raise MarkupError(f"{name}:{index + 1}: this 'docs: file' comment is never closed")
            text = "".join(f"{line}\n" for line in lines[index + 1 : end])
            blocks.append(Block(name, index + 1, "", text, file=hidden["path"]))
            index = end + 1
            continue
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        language = opening["info"].strip().split(" ")[0].lower()
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        if end == len(lines):
            raise MarkupError(f"{name}:{index + 1}: this code block is never closed")
        text = "\n".join(_dedent(line, indent) for line in lines[index + 1 : end])
        blocks.append(_with_markers(name, index + 1, language, text + "\n", lines[:index]))
        index = end + 1
    return Page(name, blocks, requires)


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0])


def _dedent(line: str, indent: int) -> str:
    return line[min(indent, len(line) - len(line.lstrip(" "))) :]


def _with_markers(page: Path, line: int, language: str, text: str, before: list[str]) -> Block:
    """The block, with the markers written on the lines right above its fence."""
    skip: str | None = None
    file: str | None = None
    append = False
    background = False
    exit_code = 0
    above = len(before) - 1
    while above >= 0 and (marker := _MARKER.match(before[above])) is not None:
        verb, rest = marker["verb"], marker["rest"]
        where = f"{page}:{above + 1}"
        if verb == "requires":
            break
        if verb not in MARKER_VERBS:
            raise MarkupError(f"{where}: unknown marker 'docs: {verb}'; use one of {_verbs()}")
        if verb == "skip":
            if not rest:
                raise MarkupError(f"{where}: 'docs: skip' needs a reason after it")
            skip = rest
        elif verb == "background":
            background = True
        elif verb in ("file", "append"):
            if not rest or len(shlex.split(rest)) != 1 or Path(rest).is_absolute():
                raise MarkupError(f"{where}: 'docs: {verb}' needs one relative path, got {rest!r}")
            file, append = rest, verb == "append"
        else:
            number = rest.split(" ", 1)[0]
            if not number.isdigit():
                raise MarkupError(f"{where}: 'docs: exit' needs a number, got {rest!r}")
            exit_code = int(number)
        above -= 1
    return Block(page, line, language, text, skip, file, exit_code, append, background)


def _verbs() -> str:
    return ", ".join(sorted(MARKER_VERBS | {"requires"}))


def console_commands(text: str) -> list[str]:
    """The commands of a ``console`` block: ``$ `` lines, with ``\\`` continuations joined."""
    commands: list[str] = []
    pending: str | None = None
    for line in text.splitlines():
        if pending is not None:
            pending += " " + line.strip()
        elif line.startswith("$ "):
            pending = line[2:]
        else:
            continue
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
        else:
            commands.append(pending)
            pending = None
    if pending is not None:
        commands.append(pending)
    return commands


def shell_commands(text: str) -> list[str]:
    """The commands of an ``sh`` block: each line, ``\\`` continuations joined."""
    return console_commands("\n".join(_as_prompt(line) for line in text.splitlines()))


def _as_prompt(line: str) -> str:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return ""
    return line if line.startswith(" ") else f"$ {line}"


def pip_requirements(command: str) -> list[str] | None:
    """The requirements a ``pip install`` command names, or None for another command."""
    words = shlex.split(command, comments=True)
    if words[:1] in (["pip"], ["pip3"]) and words[1:2] == ["install"]:
        return [word for word in words[2:] if not word.startswith("-")]
    if words[:4] == ["python", "-m", "pip", "install"]:
        return [word for word in words[4:] if not word.startswith("-")]
    return None
