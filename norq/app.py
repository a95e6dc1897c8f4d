"""The application API: :class:`Norq`, which takes keyword arguments and sends values.

Every verb that takes a channel takes the same content keywords (``body``,
``template``, ``data``, ``provider`` and per-message options), and
:meth:`Notification.from_keywords <norq.notification.Notification.from_keywords>`
turns them into a :class:`~norq.notification.Notification`. With
``notification=NAME`` instead of a channel, a verb sends the config's
multi-channel notification ``NAME`` to a contact. Either way the value goes to
what :class:`~norq.sender.Sender` provides: the router composes the message,
delivery sends it along its providers through the executor, and a
:class:`~norq.receipt.Receipt` comes back. The module-level ``norq.notify`` is
:mod:`norq.default`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, overload

from norq import dryrun, intercept
from norq.bulk import AsyncBulkReceipts, BulkReceipts, RecipientLike
from norq.errors import MessageError
from norq.ledger import Ledger, ResendPolicy
from norq.message import EMPTY
from norq.notification import CONTENT_KEYWORDS, Notification
from norq.receipt import Receipt
from norq.sender import Sender

if TYPE_CHECKING:
    from norq.contact import ContactLike
    from norq.dryrun import PreparedNotification
    from norq.jobs.store import JobStatus
    from norq.multichannel import ContactSend

Data = Mapping[str, Any] | None


class Norq(Sender):
    """A configured notification sender. Use it as a context manager to close its pools.

    Build one with :meth:`from_yaml`, :meth:`from_dict` or :meth:`discover`.
    ``transports`` replaces registered transports by name with ready
    instances (``{"http": norq.testing.MockTransport()}`` in tests);
    ``console_stream`` is where the console provider prints. ``observer``
    is told about every notification and attempt (:mod:`norq.observe`); by
    default it is OpenTelemetry's when the config's ``telemetry:`` turns it on.
    """

    @overload
    def notify(
        self,
        channel: str,
        to: str,
        *,
        body: str | None = None,
        template: str | None = None,
        data: Data = None,
        provider: str | None = None,
        **fields: Any,
    ) -> Receipt: ...

    @overload
    def notify(self, *, notification: str, to: ContactLike, data: Data = None) -> list[Receipt]: ...

    def notify(
        self,
        channel: str | None = None,
        to: Any = None,
        *,
        notification: str | None = None,
        **content: Any,
    ) -> Receipt | list[Receipt]:
        """Send one notification; raise :class:`DeliveryError` if it finally fails.

        With ``notification=NAME`` instead of a channel, send the config's
        multi-channel notification ``NAME`` to ``to``, a :class:`norq.Contact`
        (or a mapping of channel to address), on its channels by its strategy.
        That returns one receipt per channel tried and raises only for bad
        input (before anything is sent), never for a failed delivery.
        """
        if notification is not None:
            return self._contact(notification, to, channel, content).run(self._wiring.deliver)
        return self.send(Notification.from_keywords(channel, to, content))

    @overload
    async def anotify(
        self,
        channel: str,
        to: str,
        *,
        body: str | None = None,
        template: str | None = None,
        data: Data = None,
        provider: str | None = None,
        **fields: Any,
    ) -> Receipt: ...

    @overload
    async def anotify(
        self, *, notification: str, to: ContactLike, data: Data = None
    ) -> list[Receipt]: ...

    async def anotify(
        self,
        channel: str | None = None,
        to: Any = None,
        *,
        notification: str | None = None,
        **content: Any,
    ) -> Receipt | list[Receipt]:
        """Async :meth:`notify`."""
        if notification is not None:
            contact = self._contact(notification, to, channel, content)
            return await contact.arun(self._wiring.adeliver)
        return await self.asend(Notification.from_keywords(channel, to, content))

    @overload
    def notify_many(
        self,
        channel: str,
        recipients: Iterable[RecipientLike],
        *,
        body: str | None = None,
        template: str | None = None,
        data: Data = None,
        provider: str | None = None,
        ledger: Ledger | None = None,
        resend_unconfirmed: bool = False,
        retry_final: bool = False,
        **fields: Any,
    ) -> BulkReceipts: ...

    @overload
    def notify_many(
        self, *, notification: str, recipients: Iterable[ContactLike], data: Data = None
    ) -> Iterator[Receipt]: ...

    def notify_many(
        self,
        channel: str | None = None,
        recipients: Iterable[Any] = (),
        *,
        notification: str | None = None,
        ledger: Ledger | None = None,
        resend_unconfirmed: bool = False,
        retry_final: bool = False,
        **content: Any,
    ) -> Iterator[Receipt]:
        """Send to many recipients, one receipt each, in input order.

        Problems common to all recipients (unknown channel, template or
        per-message option) raise here, before anything is sent.
        Per-recipient problems (a malformed number, a missing template
        variable, a delivery failure) never raise: they come back as failed
        receipts. ``recipients`` is consumed lazily, so a generator of
        millions is fine, and **nothing is sent until the returned iterator
        is consumed** (``for receipt in ...``).

        With a ``ledger`` (:class:`norq.SqliteLedger`) the run is resumable:
        each recipient is claimed in it before its request goes out and its
        receipt recorded after, and the same call with the same ledger
        continues the run, skipping recipients already accepted or failed for
        good (``retry_final=True`` sends those again) and asking the provider
        about earlier sends that went unanswered (``resend_unconfirmed=True``
        sends the ones it cannot be asked about; they may arrive twice).
        Recipients not sent again get no receipt; the returned iterator's
        ``tally`` (:class:`norq.BulkTally`) counts every recipient, those included.

        With ``notification=NAME``, ``recipients`` are contacts
        (:class:`norq.Contact` or mappings) and each gets the multi-channel
        notification as :meth:`notify` sends it: one receipt per channel
        tried, ``receipt.index`` the contact's position; a contact's problem
        is one failed receipt.
        """
        if notification is not None:
            _contact_only(channel, content, ledger)
            return self.send_each(notification, recipients, content.get("data") or EMPTY)
        shared = Notification.from_keywords(channel, None, content)
        policy = ResendPolicy(resend_unconfirmed, retry_final)
        return self.send_many(shared, recipients, ledger=ledger, policy=policy)

    @overload
    def anotify_many(
        self,
        channel: str,
        recipients: Iterable[RecipientLike] | AsyncIterable[RecipientLike],
        *,
        concurrency: int = 16,
        body: str | None = None,
        template: str | None = None,
        data: Data = None,
        provider: str | None = None,
        ledger: Ledger | None = None,
        resend_unconfirmed: bool = False,
        retry_final: bool = False,
        **fields: Any,
    ) -> AsyncBulkReceipts: ...

    @overload
    def anotify_many(
        self,
        *,
        notification: str,
        recipients: Iterable[ContactLike],
        concurrency: int = 16,
        data: Data = None,
    ) -> AsyncIterator[Receipt]: ...

    def anotify_many(
        self,
        channel: str | None = None,
        recipients: Any = (),
        *,
        notification: str | None = None,
        concurrency: int = 16,
        ledger: Ledger | None = None,
        resend_unconfirmed: bool = False,
        retry_final: bool = False,
        **content: Any,
    ) -> AsyncIterator[Receipt]:
        """Async bulk send with up to ``concurrency`` requests in flight.

        The connection pool bounds it too: never more than
        ``executor.max_connections`` (default 64) at once.

        Receipts arrive in completion order; ``receipt.index`` is the
        recipient's position in the input. Use ``async for``. With
        ``notification=NAME`` the recipients are contacts, as for
        :meth:`notify_many`, and up to ``concurrency`` contacts are served at once.
        A ``ledger`` makes the run resumable, as for :meth:`notify_many`.
        """
        if notification is not None:
            _contact_only(channel, content, ledger)
            data = content.get("data") or EMPTY
            return self.asend_each(notification, recipients, data, concurrency=concurrency)
        shared = Notification.from_keywords(channel, None, content)
        policy = ResendPolicy(resend_unconfirmed, retry_final)
        return self.asend_many(
            shared, recipients, concurrency=concurrency, ledger=ledger, policy=policy
        )

    def enqueue(
        self,
        channel: str,
        to: str,
        *,
        body: str | None = None,
        template: str | None = None,
        data: Data = None,
        provider: str | None = None,
        **fields: Any,
    ) -> str:
        """Hand one notification to the Celery workers; returns its job id (see :meth:`job`)."""
        return self.enqueue_many(
            channel, [to], body=body, template=template, data=data, provider=provider, **fields
        )

    def enqueue_many(
        self,
        channel: str,
        recipients: Iterable[RecipientLike],
        *,
        body: str | None = None,
        template: str | None = None,
        data: Data = None,
        provider: str | None = None,
        **fields: Any,
    ) -> str:
        """Hand a bulk send to the Celery workers in chunks; returns the job id.

        Needs the ``celery:`` section (``pip install 'norq[celery]'``). Problems
        common to all recipients raise here, before anything is enqueued; each
        recipient's own problems become failed receipts, as in :meth:`notify_many`.
        Workers send with the same providers, limits and executor as this process.
        """
        content = {"body": body, "template": template, "data": data, "provider": provider}
        shared = Notification.from_keywords(channel, None, {**content, **fields})
        fake = intercept.current
        if fake is None:
            return self.jobs.enqueue_many(shared, recipients)
        self.jobs.check(shared)  # faked or not, the config must be able to enqueue it
        return fake.enqueue(shared, lambda: self.send_many(shared, recipients))

    def job(self, job_id: str) -> JobStatus:
        """A job's progress so far; :meth:`job_receipts` has its receipts."""
        fake = intercept.current
        return self.jobs.store.status(job_id) if fake is None else fake.job(job_id)

    def job_receipts(self, job_id: str) -> Iterator[Receipt]:
        """The receipts of a job so far, in recipient order."""
        fake = intercept.current
        return self.jobs.store.receipts(job_id) if fake is None else fake.job_receipts(job_id)

    @overload
    def prepare(
        self,
        channel: str,
        to: str,
        *,
        body: str | None = None,
        template: str | None = None,
        data: Data = None,
        provider: str | None = None,
        **fields: Any,
    ) -> PreparedNotification: ...

    @overload
    def prepare(
        self, *, notification: str, to: ContactLike, data: Data = None
    ) -> list[PreparedNotification]: ...

    def prepare(
        self,
        channel: str | None = None,
        to: Any = None,
        *,
        notification: str | None = None,
        **content: Any,
    ) -> PreparedNotification | list[PreparedNotification]:
        """Build the request the first provider would send, without sending anything.

        With ``notification=NAME``: one for each channel the contact has an
        address on, whatever the strategy would send.
        """
        if notification is not None:
            contact = self._contact(notification, to, channel, content)
            return [dryrun.prepare(composed) for composed in contact.composed]
        return self.preview(Notification.from_keywords(channel, to, content))

    def _contact(
        self, name: str, to: Any, channel: str | None, content: Mapping[str, Any]
    ) -> ContactSend:
        _contact_only(channel, content)
        return self._wiring.notifications.address(name, to, content.get("data") or EMPTY)


def _contact_only(
    channel: str | None, content: Mapping[str, Any], ledger: Ledger | None = None
) -> None:
    """Refuse single-channel arguments next to ``notification=``: the config has them."""
    given = ["channel"] if channel is not None else []
    given += [name for name in ("body", "template", "provider") if content.get(name) is not None]
    given += sorted(name for name in content if name not in CONTENT_KEYWORDS)
    if given:
        raise MessageError(
            "with notification=, the channels, templates and providers come from the "
            f"config's notifications: entry; drop {', '.join(f'{name}=' for name in given)}"
        )
    if ledger is not None:
        raise MessageError("ledger= records single-channel bulk sends only")
