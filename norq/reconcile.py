"""Asking a provider whether a message whose answer was lost exists after all.

A send that timed out or lost its connection may have been accepted. Where the
provider can list messages (Twilio can), the question has an answer: look for
a message to the same recipient with the same body, created since the run
started. Found means accepted (do not send again); not found means it never
arrived (safe to send again).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from norq.errors import MessageError, QueryError, UnsupportedOperation
from norq.provider import MessageQuery

if TYPE_CHECKING:
    from norq.app import Norq
    from norq.journal import JournalEntry, Ledger
    from norq.notification import Notification

logger = logging.getLogger("norq")

#: How far the provider's clock may lag ours and still count a message as this run's.
CLOCK_SKEW = dt.timedelta(seconds=60)


def find_sent(norq: Norq, notification: Notification, *, since: dt.datetime) -> str | None:
    """The id of a message like ``notification`` (same recipient, same text) created
    since ``since``, or ``None``.

    Asks ``notification.provider`` (the route's first when ``None``). Raises
    :class:`~norq.errors.UnsupportedOperation` when it cannot list messages,
    and :class:`~norq.errors.QueryError` when the listing fails.
    """
    prepared = norq.preview(notification)
    earliest = since.replace(microsecond=0) - CLOCK_SKEW
    query = MessageQuery(to=prepared.message.to)
    for message in norq.messages(query, provider=prepared.provider):
        if message.date_created is not None and message.date_created < earliest:
            return None  # newest first: everything after this is older still
        if message.body == prepared.message.body:
            return message.message_id
    return None


def resolve_doubtful(
    norq: Norq, journal: Ledger, shared: Notification, *, since: dt.datetime
) -> Iterator[tuple[JournalEntry, str | None]]:
    """Ask the provider about each row of ``journal`` whose send went unanswered.

    ``shared`` is the run's notification, without a recipient. Records each
    answer in the journal (:meth:`~norq.journal.Ledger.resolve`) and yields
    ``(entry, message_id)``: an id if the provider has the message, ``None``
    if not. Stops when the provider cannot list messages; a failed listing
    leaves its row unconfirmed and is logged.
    """
    for entry in list(journal.doubtful()):
        notification = shared.for_recipient(entry.to, entry.data)
        if entry.provider in norq.providers:
            # Ask the provider that sent it, not the first of the route.
            notification = dataclasses.replace(notification, provider=entry.provider)
        try:
            message_id = find_sent(norq, notification, since=since)
        except UnsupportedOperation:
            return
        except (MessageError, QueryError) as exc:
            logger.warning(
                "%s", norq.redactor.text(f"could not check row {entry.row} ({entry.to}): {exc}")
            )
            continue
        journal.resolve(entry.row, message_id)
        yield entry, message_id
