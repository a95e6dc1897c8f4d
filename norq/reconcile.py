"""Asking a provider whether a message whose answer was lost exists after all.

A send that timed out or lost its connection may have been accepted. Where the
provider can list messages (Twilio can), the question has an answer: look for
a message to the same recipient with the same body, created since the run
started. Found means accepted (do not send again); not found means it never
arrived (safe to send again).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from norq.errors import MessageError, QueryError, UnsupportedOperation
from norq.provider import MessageQuery

if TYPE_CHECKING:
    from norq.app import Norq
    from norq.journal import JournalEntry, Ledger

logger = logging.getLogger("norq")

#: How far the provider's clock may lag ours and still count a message as this run's.
CLOCK_SKEW = dt.timedelta(seconds=60)


def find_sent(
    norq: Norq,
    channel: str,
    to: str,
    *,
    since: dt.datetime,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
) -> str | None:
    """The id of a message to ``to`` with this content created since ``since``, or ``None``.

    ``provider`` is the instance that was sent through (the route's first when
    ``None``). Raises :class:`~norq.errors.UnsupportedOperation` when it cannot
    list messages, and :class:`~norq.errors.QueryError` when the listing fails.
    """
    prepared = norq.prepare(channel, to, body=body, template=template, data=data, provider=provider)
    earliest = since.replace(microsecond=0) - CLOCK_SKEW
    for message in norq.messages(MessageQuery(to=prepared.message.to), provider=prepared.provider):
        if message.date_created is not None and message.date_created < earliest:
            return None  # newest first: everything after this is older still
        if message.body == prepared.message.body:
            return message.message_id
    return None


def resolve_doubtful(
    norq: Norq,
    journal: Ledger,
    channel: str,
    *,
    since: dt.datetime,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
) -> Iterator[tuple[JournalEntry, str | None]]:
    """Ask the provider about each row of ``journal`` whose send went unanswered.

    Records each answer in the journal (:meth:`~norq.journal.Ledger.resolve`)
    and yields ``(entry, message_id)``: an id if the provider has the message,
    ``None`` if not. Stops when the provider cannot list messages; a failed
    listing leaves its row unconfirmed and is logged.
    """
    for entry in list(journal.doubtful()):
        row_data = {**data, **entry.data} if data and entry.data else (entry.data or data)
        try:
            message_id = find_sent(
                norq,
                channel,
                entry.to,
                since=since,
                body=body,
                template=template,
                data=row_data if template is not None else None,
                provider=entry.provider if entry.provider in norq.providers else provider,
            )
        except UnsupportedOperation:
            return
        except (MessageError, QueryError) as exc:
            logger.warning(
                "%s", norq.redactor.text(f"could not check row {entry.row} ({entry.to}): {exc}")
            )
            continue
        journal.resolve(entry.row, message_id)
        yield entry, message_id
