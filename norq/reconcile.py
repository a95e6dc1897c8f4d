"""Asking a provider whether a message whose answer was lost exists after all.

A send that timed out or lost its connection may have been accepted. Where the
provider can list messages (Twilio can), the question has an answer: look for
a message to the same recipient with the same body, created since the run
started. Found means accepted (do not send again); not found means it never
arrived (safe to send again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from norq.provider import MessageQuery

if TYPE_CHECKING:
    from norq.dryrun import PreparedNotification
    from norq.notification import Notification
    from norq.provider import MessageStatus

#: How far the provider's clock may lag ours and still count a message as this run's.
CLOCK_SKEW = dt.timedelta(seconds=60)


class Searchable(Protocol):
    """What the search needs of a sender: its dry run and its listing (``norq.Sender`` has both).

    Described here rather than imported: ``norq.sender`` calls this module, and
    an import back would close a loop.
    """

    def preview(self, notification: Notification) -> PreparedNotification: ...

    def messages(
        self, query: MessageQuery | None = None, *, provider: str | None = None
    ) -> Iterator[MessageStatus]: ...


def find_sent(sender: Searchable, notification: Notification, *, since: dt.datetime) -> str | None:
    """The id of a message like ``notification`` (same recipient, same text) created
    since ``since``, or ``None``.

    Asks ``notification.provider`` (the route's first when ``None``). Raises
    :class:`~norq.errors.UnsupportedOperation` when it cannot list messages,
    and :class:`~norq.errors.QueryError` when the listing fails.
    """
    prepared = sender.preview(notification)
    earliest = since.replace(microsecond=0) - CLOCK_SKEW
    query = MessageQuery(to=prepared.message.to)
    for message in sender.messages(query, provider=prepared.provider):
        if message.date_created is not None and message.date_created < earliest:
            return None  # newest first: everything after this is older still
        if message.body == prepared.message.body:
            return message.message_id
    return None
