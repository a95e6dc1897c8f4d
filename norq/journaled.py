"""Bulk sends that keep a journal: a run stopped half-way resumes without duplicates.

:func:`send_journaled` and :func:`asend_journaled` wrap ``notify_many`` and
``anotify_many`` with a :class:`~norq.journal.Ledger`. Each recipient is
claimed in the ledger before its request goes out, and its receipt recorded
the moment it comes back (through the bulk send's ``journal=`` seam);
recipients already accepted, or whose earlier send went unanswered, are
skipped, after asking the provider about the unanswered ones where it can
list messages. Running the same call again with the same ledger continues
the run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from norq.journal import Claim, Ledger, RunInfo, content_fingerprint
from norq.message import EMPTY
from norq.notification import Notification
from norq.receipt import Receipt

if TYPE_CHECKING:
    from norq.app import Norq
    from norq.bulk import RecipientLike

#: Called with each recipient's row (its position in the input, from 1) and its claim:
#: ``claim.granted`` false means skipped, ``claim.may_duplicate`` a re-send the caller allowed.
OnClaim = Callable[[int, Claim], None]


def send_journaled(
    norq: Norq,
    journal: Ledger,
    channel: str,
    recipients: Iterable[RecipientLike],
    *,
    resend_unconfirmed: bool = False,
    on_claim: OnClaim | None = None,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
    **fields: Any,
) -> Iterator[Receipt]:
    """:meth:`Norq.notify_many` with a journal; skipped recipients get no receipt.

    ``receipt.index`` is the recipient's position in ``recipients`` (from 0),
    as without a journal. First come receipts (``attempts == 0``) for earlier
    sends that went unanswered and that the provider turned out to have.
    ``resend_unconfirmed=True`` also sends those the provider could not be
    asked about: they may get the message twice. ``on_claim`` sees every
    recipient's claim: count the skipped ones and those that
    ``may_duplicate``. Only one sender may use a journal at a time.
    """
    shared = Notification(channel, None, body, template, data or EMPTY, fields, provider)
    claims = _Claims(journal, resend_unconfirmed, on_claim)
    yield from _open(norq, journal, shared)
    receipts = norq.send_many(shared, claims.granted(recipients), journal=claims)
    try:
        for receipt in receipts:
            yield claims.renumbered(receipt)
    finally:
        # Stopped early (an exception, KeyboardInterrupt, the caller broke
        # off): a row claimed but without a receipt may have gone out.
        journal.settle_open()


async def asend_journaled(
    norq: Norq,
    journal: Ledger,
    channel: str,
    recipients: Iterable[RecipientLike],
    *,
    concurrency: int = 16,
    resend_unconfirmed: bool = False,
    on_claim: OnClaim | None = None,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
    **fields: Any,
) -> AsyncIterator[Receipt]:
    """:meth:`Norq.anotify_many` with a journal; as :func:`send_journaled`.

    Receipts arrive in completion order. Closing or cancelling the consumer
    records the recipients still in flight as unconfirmed.
    """
    shared = Notification(channel, None, body, template, data or EMPTY, fields, provider)
    claims = _Claims(journal, resend_unconfirmed, on_claim)
    for found in _open(norq, journal, shared):
        yield found
    receipts = norq.asend_many(
        shared, claims.granted(recipients), concurrency=concurrency, journal=claims
    )
    try:
        async for receipt in receipts:
            yield claims.renumbered(receipt)
    finally:
        await receipts.aclose()  # type: ignore[attr-defined]
        journal.settle_open()


def _open(norq: Norq, journal: Ledger, shared: Notification) -> list[Receipt]:
    """Start or continue the run, then settle what a previous sender left open.

    Returns a receipt for each unanswered send the provider turned out to have.
    """
    from norq.reconcile import resolve_doubtful

    # Checks the channel, template and provider before the journal is touched.
    norq.send_many(shared, ())
    run = journal.open_run(
        RunInfo(shared.channel, content_fingerprint(shared), dt.datetime.now(dt.UTC))
    )
    journal.settle_open()
    return [
        Receipt(
            ok=True,
            channel=shared.channel,
            provider=entry.provider or shared.provider or norq.routing[shared.channel][0],
            to=entry.to,
            message_id=message_id,
            attempts=0,
            index=entry.row - 1,
        )
        for entry, message_id in resolve_doubtful(norq, journal, shared, since=run.started_at)
        if message_id is not None
    ]


class _Claims:
    """Hands the bulk send only the recipients the ledger grants, and records their
    receipts as the bulk send's journal (:class:`norq.bulk.SendJournal`)."""

    def __init__(self, journal: Ledger, resend_unconfirmed: bool, on_claim: OnClaim | None):
        self._journal = journal
        self._resend_unconfirmed = resend_unconfirmed
        self._on_claim = on_claim
        self._rows: dict[int, int] = {}  # position among those sent -> row, until renumbered
        self._sent = 0

    def granted(self, recipients: Iterable[RecipientLike]) -> Iterator[RecipientLike]:
        for row, item in enumerate(recipients, start=1):
            to, data = _address(item)
            claim = self._journal.claim(row, to, data, resend_unconfirmed=self._resend_unconfirmed)
            if self._on_claim is not None:
                self._on_claim(row, claim)
            if not claim.granted:
                continue
            self._rows[self._sent] = row
            self._sent += 1
            yield item

    def before(self, index: int, notification: Notification) -> None:
        pass  # the claim already recorded the row as sending, before its message was built

    def after(self, receipt: Receipt) -> None:
        assert receipt.index is not None
        self._journal.record_outcome(self._rows[receipt.index], receipt)

    def renumbered(self, receipt: Receipt) -> Receipt:
        assert receipt.index is not None
        row = self._rows.pop(receipt.index)
        return dataclasses.replace(receipt, index=row - 1)


def _address(item: Any) -> tuple[str, Mapping[str, Any]]:
    """A recipient's address and own data, as the journal keys them; never raises
    (a malformed recipient gets its failed receipt from the send itself)."""
    from norq.bulk import Recipient

    if isinstance(item, str):
        return item, {}
    if isinstance(item, Recipient):
        return item.to, dict(item.data or {})
    if isinstance(item, Mapping) and "to" in item:
        return str(item["to"]), {key: value for key, value in item.items() if key != "to"}
    return repr(item), {}
