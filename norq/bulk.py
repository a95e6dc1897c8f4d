"""Bulk sends: one notification to many recipients, one receipt each.

:class:`BulkSend` addresses the shared :class:`~norq.notification.Notification`
to each recipient (a recipient's problem becomes a failed receipt, never an
exception) and delivers it, one after the other (:meth:`BulkSend.run`) or with
a bounded pool of async workers (:meth:`BulkSend.arun`).

A :class:`SendJournal` sees every recipient before its first request goes out
and every receipt when it comes back, so a journal can record a run and
resume it after a crash: pass one as ``journal=`` to ``Norq.notify_many`` or
``Norq.anotify_many``.
"""

from __future__ import annotations

import logging
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from norq.errors import MessageError
from norq.notification import Notification
from norq.receipt import DeliveryFailure, Receipt

if TYPE_CHECKING:
    from norq.message import Message
    from norq.provider import Provider

logger = logging.getLogger("norq")


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of a bulk send, with its own template data and options."""

    to: str
    data: Mapping[str, Any] | None = None
    fields: Mapping[str, Any] | None = None


RecipientLike = str | Recipient | Mapping[str, Any]


class SendJournal(Protocol):
    """Records a bulk send as it happens. Both methods run on the sending thread or loop.

    ``before`` is called once per recipient whose message was built, before
    its first request goes out; ``after`` is called with every receipt, also
    for recipients rejected before sending (``attempts == 0``, no ``before``).
    An exception from either stops the bulk send: a journal that cannot write
    must not let messages go out unrecorded.
    """

    def before(self, index: int, notification: Notification) -> None: ...

    def after(self, receipt: Receipt) -> None: ...


Compose = Callable[[Notification, "tuple[Provider, ...]"], "Message"]


@dataclass(frozen=True, slots=True)
class BulkSend:
    """The shared notification, its providers, and what to call per recipient."""

    shared: Notification
    chain: tuple[Provider, ...]
    compose: Compose
    report: Callable[[Receipt], None]
    journal: SendJournal | None = None

    def address(self, item: RecipientLike, index: int) -> Message | Receipt:
        """The message for one recipient, or a failed receipt saying why not."""
        to: Any = item
        try:
            recipient = as_recipient(item)
            to = recipient.to
            notification = self.shared.for_recipient(to, recipient.data, recipient.fields)
            message = self.compose(notification, self.chain)
        except MessageError as exc:
            receipt = Receipt(
                ok=False,
                channel=self.shared.channel,
                provider=self.chain[0].instance,
                to=to if isinstance(to, str) else repr(to),
                attempts=0,
                error=DeliveryFailure(code=exc.code, message=str(exc)),
                index=index,
            )
            self.report(receipt)
            return receipt
        if self.journal is not None:
            self.journal.before(index, notification)
        return message

    def run(
        self,
        recipients: Iterable[RecipientLike],
        deliver: Callable[[Message, tuple[Provider, ...], int], Receipt],
    ) -> Iterator[Receipt]:
        """Deliver to each recipient in turn; receipts in input order."""
        for index, item in enumerate(recipients):
            addressed = self.address(item, index)
            receipt = (
                addressed
                if isinstance(addressed, Receipt)
                else deliver(addressed, self.chain, index)
            )
            if self.journal is not None:
                self.journal.after(receipt)
            yield receipt

    async def arun(
        self,
        recipients: Iterable[RecipientLike] | AsyncIterable[RecipientLike],
        adeliver: Callable[[Message, tuple[Provider, ...], int], Awaitable[Receipt]],
        workers: int,
    ) -> AsyncIterator[Receipt]:
        """Deliver with ``workers`` concurrent senders; receipts in completion order."""
        import asyncio  # here, not at the top: a dry run never needs it

        done = object()
        # Bounded, so a slow consumer slows the senders instead of piling up receipts.
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=workers * 2)
        next_item = _item_source(recipients)
        consumer_gone = False

        async def worker() -> None:
            while (entry := await next_item()) is not None:
                index, item = entry
                addressed = self.address(item, index)
                if not isinstance(addressed, Receipt):
                    addressed = await adeliver(addressed, self.chain, index)
                if self.journal is not None:
                    self.journal.after(addressed)
                await queue.put(addressed)

        async def run_workers() -> None:
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(workers):
                        group.create_task(worker())
            finally:
                if not consumer_gone:
                    await queue.put(done)

        runner = asyncio.create_task(run_workers())
        try:
            while (receipt := await queue.get()) is not done:
                yield receipt
            try:
                await runner
            except BaseExceptionGroup as group:
                if len(group.exceptions) == 1:
                    raise group.exceptions[0] from None
                raise
        finally:
            consumer_gone = True
            if not runner.done():
                runner.cancel()
                try:
                    await runner
                except BaseException:
                    logger.debug("bulk send stopped early")


def check_recipients(recipients: object) -> None:
    """Refuse a value that iterates but is not a collection of recipients.

    A string (``"+15551234567"``) would be sent to each of its characters, and
    a single mapping or Recipient is one recipient, not a list of them.
    """
    if isinstance(recipients, str | bytes):
        raise MessageError(
            f"recipients must be a list of recipients, got the string {recipients!r}; "
            f"pass [{recipients!r}] for one recipient, or use notify()",
            code="invalid_recipient",
        )
    if isinstance(recipients, Recipient | Mapping):
        raise MessageError(
            f"recipients must be a list of recipients, got a single {type(recipients).__name__}; "
            "put it in a list",
            code="invalid_recipient",
        )
    if not isinstance(recipients, Iterable | AsyncIterable):
        raise MessageError(
            f"recipients must be a list or other iterable of recipients, "
            f"got {type(recipients).__name__}",
            code="invalid_recipient",
        )


def as_recipient(item: RecipientLike) -> Recipient:
    """A :class:`Recipient` from a string, a Recipient, or a mapping with ``"to"``."""
    if isinstance(item, str):
        return Recipient(item)
    if isinstance(item, Recipient):
        return item
    if isinstance(item, Mapping):
        if "to" not in item:
            raise MessageError(
                f"recipient {dict(item)!r} has no 'to' key", code="invalid_recipient"
            )
        rest = {key: value for key, value in item.items() if key != "to"}
        return Recipient(str(item["to"]), data=rest or None)
    raise MessageError(
        f"a recipient must be a string, a norq.Recipient or a mapping with 'to'; got {item!r}",
        code="invalid_recipient",
    )


def _item_source(
    recipients: Iterable[RecipientLike] | AsyncIterable[RecipientLike],
) -> Callable[[], Awaitable[tuple[int, RecipientLike] | None]]:
    """An async callable giving ``(index, item)`` pairs, ``None`` when exhausted."""
    counter = 0
    if isinstance(recipients, AsyncIterable):
        import asyncio

        iterator = aiter(recipients)
        lock = asyncio.Lock()

        async def next_async() -> tuple[int, RecipientLike] | None:
            nonlocal counter
            async with lock:
                try:
                    item = await anext(iterator)
                except StopAsyncIteration:
                    return None
                counter += 1
                return counter - 1, item

        return next_async
    sync_iterator = iter(recipients)

    async def next_sync() -> tuple[int, RecipientLike] | None:
        nonlocal counter
        # No await between next() and the counter: the pair is atomic on the loop.
        try:
            item = next(sync_iterator)
        except StopIteration:
            return None
        counter += 1
        return counter - 1, item

    return next_sync
