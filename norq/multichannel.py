"""Multi-channel notifications: one notification to one person on several channels.

A ``notifications:`` entry in the config names the channels, in order, and a
strategy. :func:`plan` turns a :class:`~norq.contact.Contact` into one
:class:`~norq.notification.Notification` per channel the person has an
address on; :class:`Fanout` decides, receipt by receipt, which of them to
send next. Both are pure, like :class:`~norq.delivery.Delivery`; ``Norq``
drives them with the same delivery flow as a single notification, so every
channel keeps its own providers, retries and failover.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from norq.contact import Contact, ContactLike, as_contact
from norq.errors import MessageError
from norq.notification import Notification
from norq.receipt import Receipt

if TYPE_CHECKING:
    from norq.config import NotificationSettings
    from norq.provider import Provider
    from norq.router import Composed


def plan(
    name: str, settings: NotificationSettings, contact: Contact, data: Mapping[str, Any]
) -> tuple[Notification, ...]:
    """One notification per channel of ``name`` that ``contact`` has an address on, in order.

    The template is the notification's (its name unless it names another);
    the contact's own data wins over ``data``.
    """
    template = settings.template or name
    merged = {**data, **contact.data} if contact.data else data
    sends = tuple(
        Notification(channel, address, template=template, data=merged)
        for channel in settings.channels
        if (address := contact.address(channel)) is not None
    )
    if not sends:
        raise MessageError(
            f"the contact has no address on any channel of notification {name!r} "
            f"({', '.join(settings.channels)}); give at least one",
            code="invalid_recipient",
        )
    return sends


class Fanout:
    """Which of a contact's notifications to send next. Pure.

    ``all`` sends each in turn, whatever the previous one did; ``first`` goes
    on only while sends fail, and stops at the first that delivers.
    """

    __slots__ = ("_count", "_position", "_strategy")

    def __init__(self, count: int, strategy: str) -> None:
        self._count = count
        self._strategy = strategy
        self._position = 0

    def first(self) -> int:
        return 0

    def record(self, receipt: Receipt) -> int | None:
        """Take the receipt of the last send: the position of the next, or ``None``: done."""
        if self._strategy == "first" and receipt.ok:
            return None
        self._position += 1
        return self._position if self._position < self._count else None


Route = Callable[[str], "tuple[Provider, ...]"]
Compose = Callable[[Notification], "Composed"]
Deliver = Callable[["Composed", "int | None"], "Receipt"]
AsyncDeliver = Callable[["Composed", "int | None"], Awaitable["Receipt"]]


@dataclass(frozen=True, slots=True)
class ContactSend:
    """A named notification for one contact, composed for each channel: ready to send."""

    strategy: str
    composed: tuple[Composed, ...]

    def run(self, deliver: Deliver, index: int | None = None) -> list[Receipt]:
        """Send by the strategy; one receipt per channel tried."""
        fanout = Fanout(len(self.composed), self.strategy)
        receipts: list[Receipt] = []
        step: int | None = fanout.first()
        while step is not None:
            receipts.append(deliver(self.composed[step], index))
            step = fanout.record(receipts[-1])
        return receipts

    async def arun(self, adeliver: AsyncDeliver, index: int | None = None) -> list[Receipt]:
        """Async :meth:`run`."""
        fanout = Fanout(len(self.composed), self.strategy)
        receipts: list[Receipt] = []
        step: int | None = fanout.first()
        while step is not None:
            receipts.append(await adeliver(self.composed[step], index))
            step = fanout.record(receipts[-1])
        return receipts


class Notifications:
    """The config's ``notifications:``, addressed to contacts through the router."""

    def __init__(
        self, settings: Mapping[str, NotificationSettings], route: Route, compose: Compose
    ) -> None:
        self._settings = settings
        self._route = route
        self._compose = compose

    def settings(self, name: str) -> NotificationSettings:
        found = self._settings.get(name)
        if found is None:
            known = ", ".join(sorted(self._settings)) or "none are configured"
            raise MessageError(
                f"unknown notification {name!r} (known: {known}); add it under notifications:"
            )
        return found

    def address(self, name: str, to: ContactLike, data: Mapping[str, Any]) -> ContactSend:
        """Every channel's message for ``to``, checked before anything is sent."""
        settings = self.settings(name)
        sends = plan(name, settings, as_contact(to), data)
        return ContactSend(settings.strategy, tuple(self._compose(send) for send in sends))

    def send_each(
        self,
        name: str,
        contacts: Iterable[ContactLike],
        data: Mapping[str, Any],
        deliver: Deliver,
        report: Callable[[Receipt], None],
    ) -> Iterator[Receipt]:
        """Each contact in turn; a contact's problem becomes a failed receipt."""
        for index, item in enumerate(contacts):
            try:
                ready = self.address(name, item, data)
            except MessageError as exc:
                refused = self._refused(name, item, exc, index)
                report(refused)
                yield refused
                continue
            yield from ready.run(deliver, index)

    async def asend_each(
        self,
        name: str,
        contacts: Iterable[ContactLike],
        data: Mapping[str, Any],
        adeliver: AsyncDeliver,
        report: Callable[[Receipt], None],
        workers: int,
    ) -> AsyncIterator[Receipt]:
        """Up to ``workers`` contacts at a time; receipts as each contact finishes."""
        from norq.bulk import bounded, stream

        items = iter(enumerate(contacts))

        async def next_contact() -> tuple[int, ContactLike] | None:
            return next(items, None)

        async def serve(emit: Callable[[Receipt], Awaitable[None]]) -> None:
            async def one(entry: tuple[int, ContactLike]) -> None:
                index, item = entry
                try:
                    ready = self.address(name, item, data)
                except MessageError as exc:
                    refused = self._refused(name, item, exc, index)
                    report(refused)
                    await emit(refused)
                    return
                for receipt in await ready.arun(adeliver, index):
                    await emit(receipt)

            await bounded(next_contact, one, workers)

        async with contextlib.aclosing(stream(serve, buffer=2 * workers)) as receipts:
            async for receipt in receipts:
                yield receipt

    def _refused(self, name: str, item: object, exc: MessageError, index: int) -> Receipt:
        channel = self.settings(name).channels[0]
        to = item.address(channel) if isinstance(item, Contact) else None
        if to is None and isinstance(item, Mapping):
            to = item.get(channel)
        return Receipt.refused(
            channel,
            self._route(channel)[0].instance,
            str(to) if to is not None else repr(item),
            exc.code,
            str(exc),
            index=index,
        )
