"""Files Norq reads and writes: config and templates in, journals and receipts out.

A journal or a receipts file lists who was messaged and with what data.
``open()`` would create it with the process's umask (usually 0644, readable
by every user of the machine); :func:`create_private` and :func:`open_private`
create it 0600. A file that already exists keeps the mode its owner gave it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

PRIVATE_MODE = 0o600


def create_private(path: str | Path) -> None:
    """Create ``path`` empty and private, unless it exists (then it is left untouched)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_MODE))


def open_private(path: str | Path, *, append: bool = False, buffering: int = -1) -> TextIO:
    """Open ``path`` for writing UTF-8 text, creating it private; ``append`` keeps its content."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    descriptor = os.open(path, flags, PRIVATE_MODE)
    return os.fdopen(descriptor, "a" if append else "w", encoding="utf-8", buffering=buffering)


class NotUtf8(ValueError):
    """A text file is not UTF-8; the message names the file, line, column and byte."""


def read_utf8(path: Path) -> str:
    """The text of ``path``; :class:`NotUtf8` says where, if it is not UTF-8."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        raise NotUtf8(
            f"{path}:{line}:{column}: not UTF-8 (byte 0x{raw[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None
