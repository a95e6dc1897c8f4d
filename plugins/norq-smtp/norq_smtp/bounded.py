"""smtplib connections whose replies are read up to a size, as every transport's answers are.

smtplib bounds each line of a reply (8 KiB) but not how many lines a
multi-line reply has: a server that kept sending ``250-`` continuation lines
would be read, into memory, for as long as it kept going. These connections
count the bytes of each reply and stop at ``executor.max_response_bytes``.
(aiosmtplib, for async sends, stops a reply at 32 KiB on its own.)
"""

from __future__ import annotations

import smtplib
from typing import IO, Any


class _ReplyReader:
    """The connection's socket file, counting what each reply reads."""

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        self._inner = inner
        self._limit = limit
        self.read = 0

    def readline(self, size: int = -1) -> bytes:
        line = self._inner.readline(size)
        self.read += len(line)
        if self.read > self._limit:
            # smtplib turns an OSError into SMTPServerDisconnected and closes.
            raise OSError(
                f"the server's reply is longer than executor.max_response_bytes "
                f"({self._limit:,} bytes)"
            )
        return line

    def close(self) -> None:
        self._inner.close()


def _count_from_here(connection: Any, limit: int) -> None:
    """Before a reply is read: a counting file, its count back at zero."""
    if connection.file is None and connection.sock is not None:
        # smtplib makes the file on first read, and again after STARTTLS.
        connection.file = _ReplyReader(connection.sock.makefile("rb"), limit)
    if isinstance(connection.file, _ReplyReader):
        connection.file.read = 0


class BoundedSMTP(smtplib.SMTP):
    """``smtplib.SMTP``, each reply at most ``reply_limit`` bytes, the greeting included."""

    def __init__(self, *args: Any, reply_limit: int, **kwargs: Any) -> None:
        # Set before smtplib's __init__ connects and reads the greeting.
        self.reply_limit = reply_limit
        super().__init__(*args, **kwargs)

    def getreply(self) -> tuple[int, bytes]:
        _count_from_here(self, self.reply_limit)
        return super().getreply()


class BoundedSMTP_SSL(BoundedSMTP, smtplib.SMTP_SSL):
    """``smtplib.SMTP_SSL``, bounded as :class:`BoundedSMTP` is."""
