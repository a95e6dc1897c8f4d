"""The application API: :class:`Norq` and the module-level ``notify`` / ``anotify``.

A facade over the notification's path: a :class:`~norq.notification.Notification`
is routed and composed (:mod:`norq.router`), delivered along its providers
(:mod:`norq.delivery`, one at a time or in bulk with :mod:`norq.bulk`) by the
executor, and comes back as a :class:`~norq.receipt.Receipt`. Status queries
are :mod:`norq.queries`.
"""

from __future__ import annotations

import atexit
import datetime as dt
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, overload

import pluggy

from norq import queries
from norq.bulk import (
    AsyncBulkReceipts,
    BulkReceipts,
    BulkSend,
    RecipientLike,
    check_recipients,
    indexed,
)
from norq.config import (
    NO_CONFIG_FILE,
    NorqConfig,
    discover_config_path,
    load_config,
    read_yaml,
)
from norq.contact import ContactLike
from norq.delivery import Hooks, adeliver, deliver
from norq.dryrun import RequestRedactor
from norq.errors import DeliveryError, MessageError
from norq.ledger import Ledger, ResendPolicy
from norq.message import EMPTY, Message
from norq.multichannel import Notifications
from norq.notification import Notification
from norq.plugins import get_plugin_manager, provider_registry
from norq.provider import MessageQuery, MessageStatus, Provider
from norq.receipt import Receipt
from norq.router import Router
from norq.transports.base import Prepared

if TYPE_CHECKING:
    from norq.executor import Executor
    from norq.jobs.dispatch import Dispatcher
    from norq.jobs.store import JobStatus
    from norq.raw import Params, RawResponse
    from norq.throttle import LimitStore, Throttle
    from norq.transports.base import Transport


@dataclass(frozen=True, slots=True)
class PreparedNotification:
    """A notification built but not sent: what a dry run shows."""

    provider: str
    message: Message
    request: Prepared
    notes: Mapping[str, str]


class Norq:
    """A configured notification sender. Use it as a context manager to close its pools.

    ``transports`` replaces registered transports by name with ready
    instances (``{"http": norq.testing.MockTransport()}`` in tests);
    ``console_stream`` is where the console provider prints.
    """

    def __init__(
        self,
        config: NorqConfig,
        *,
        plugin_manager: pluggy.PluginManager | None = None,
        executor: Executor | None = None,
        console_stream: IO[str] | None = None,
        transports: Mapping[str, Transport] | None = None,
        limit_store: LimitStore | None = None,
    ) -> None:
        if executor is not None and (console_stream is not None or transports):
            raise ValueError(
                "pass console_stream and transports to the Executor you provide, not to Norq"
            )
        self.config = config
        self._pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
        self._router = Router(
            config.routing, config.providers, config.templates, origin=config.origin()
        )
        self._transports = dict(transports or {})
        if console_stream is not None:
            from norq.providers.console import TRANSPORT, ConsoleTransport

            self._transports[TRANSPORT] = ConsoleTransport(stream=console_stream)
        self._built_executor = executor
        self._building = threading.Lock()
        self._hooks = Hooks(self._pm)
        self._notifications = Notifications(config.notifications, self._router.route, self._compose)
        self.redactor = RequestRedactor(config.secret_values())
        if executor is not None and executor.redact is str:
            executor.redact = self.redactor.text
        self._limit_store = limit_store
        self._throttles: dict[tuple[str, bool], Throttle | None] = {}
        self._dispatcher: Dispatcher | None = None

    @property
    def executor(self) -> Executor:
        """The executor that sends, built on first use from the ``executor:`` settings.

        A dry run or a config check never builds it (nor imports its transports).
        """
        executor = self._built_executor
        if executor is None:
            with self._building:  # sixteen threads' first sends build one executor
                executor = self._built_executor
                if executor is None:
                    executor = self._built_executor = self._build_executor()
        return executor

    def _build_executor(self) -> Executor:
        from norq.executor import Executor
        from norq.plugins import transport_registry

        settings = self.config.executor
        return Executor(
            timeout=settings.timeout,
            connect_timeout=settings.connect_timeout,
            max_connections=settings.max_connections,
            async_transport=settings.async_transport,
            factories=transport_registry(self._pm),
            transports=self._transports,
            redact=self.redactor.text,
        )

    def _throttle(self, provider: Provider, *, query: bool = False) -> Throttle | None:
        """The rate limits of ``provider``, built on its first send; ``None`` if it has none.

        A ``query`` (status, listing) counts against the instance's limits but
        not its sender's: it sends no message.
        """
        key = (provider.instance, query)
        try:
            return self._throttles[key]
        except KeyError:
            pass
        throttle = None
        limits = provider.rate_limits
        if query:
            limits = replace(limits, sender_per_second=None)
        if limits.active:
            from norq.throttle import Throttle

            throttle = Throttle(
                provider.instance,
                limits,
                self._limits_store(),
                sender=provider.sender,
                # A lease outlives the longest request, so only a dead sender's expires.
                lease=2 * (self.config.executor.timeout + self.config.executor.connect_timeout),
            )
        self._throttles[key] = throttle
        return throttle

    def _limits_store(self) -> LimitStore:
        store = self._limit_store
        if store is None:
            celery = self.config.celery
            if celery is not None:
                # Redis is configured: every process sending for this config shares one limit.
                from norq.jobs.redis_limits import RedisLimitStore

                store = RedisLimitStore.from_url(celery.store_url)
            else:
                from norq.throttle import LocalLimitStore

                store = LocalLimitStore()
            self._limit_store = store
        return store

    # -- construction ---------------------------------------------------------

    @classmethod
    def from_dict(
        cls,
        document: Mapping[str, Any] | None,
        *,
        environ: Mapping[str, str] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
        base_dir: str | Path | None = None,
        executor: Executor | None = None,
        console_stream: IO[str] | None = None,
        transports: Mapping[str, Transport] | None = None,
    ) -> Norq:
        """Build from an already parsed config (same shape as the YAML)."""
        pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
        config = load_config(
            dict(document) if isinstance(document, Mapping) else document,
            provider_registry(pm),
            environ=environ,
            base_dir=Path(base_dir) if base_dir is not None else None,
        )
        return cls(
            config,
            plugin_manager=pm,
            executor=executor,
            console_stream=console_stream,
            transports=transports,
        )

    @classmethod
    def from_yaml(
        cls,
        path: str | Path,
        *,
        environ: Mapping[str, str] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
        executor: Executor | None = None,
        console_stream: IO[str] | None = None,
        transports: Mapping[str, Transport] | None = None,
    ) -> Norq:
        """Load a YAML config file; errors name the file and the dotted path."""
        path = Path(path)
        pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
        config = load_config(
            read_yaml(path),
            provider_registry(pm),
            environ=environ,
            base_dir=path.parent,
            source=str(path),
        )
        return cls(
            config,
            plugin_manager=pm,
            executor=executor,
            console_stream=console_stream,
            transports=transports,
        )

    @classmethod
    def discover(cls, *, environ: Mapping[str, str] | None = None) -> Norq:
        """``$NORQ_CONFIG``, else ``./norq.yaml``, else providers from the environment."""
        path = discover_config_path(environ)
        if path is None:
            pm = get_plugin_manager()
            registry = provider_registry(pm)
            return cls(
                load_config({}, registry, environ=environ, source=NO_CONFIG_FILE), plugin_manager=pm
            )
        return cls.from_yaml(path, environ=environ)

    # -- introspection -------------------------------------------------------

    @property
    def providers(self) -> Mapping[str, Provider]:
        return self.config.providers

    @property
    def routing(self) -> Mapping[str, tuple[str, ...]]:
        return self.config.routing

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        return self._pm

    def __repr__(self) -> str:
        routes = ", ".join(f"{c}: {'|'.join(chain)}" for c, chain in self.routing.items())
        return f"<Norq providers=[{', '.join(self.providers)}] routing={{{routes}}}>"

    # -- sending ------------------------------------------------------------

    @overload
    def notify(
        self,
        channel: str,
        to: str,
        *,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
        provider: str | None = None,
        **fields: Any,
    ) -> Receipt: ...

    @overload
    def notify(
        self, *, notification: str, to: ContactLike, data: Mapping[str, Any] | None = None
    ) -> list[Receipt]: ...

    def notify(
        self,
        channel: str | None = None,
        to: Any = None,
        *,
        notification: str | None = None,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
        provider: str | None = None,
        **fields: Any,
    ) -> Receipt | list[Receipt]:
        """Send one notification; raise :class:`DeliveryError` if it finally fails.

        With ``notification=NAME`` instead of a channel, send the config's
        multi-channel notification ``NAME`` to ``to``, a :class:`norq.Contact`
        (or a mapping of channel to address), on its channels by its strategy.
        That returns one receipt per channel tried and raises only for bad
        input (before anything is sent), never for a failed delivery.
        """
        if notification is not None:
            _contact_call(channel, body, template, provider, fields)
            ready = self._notifications.address(notification, to, data or EMPTY)
            return ready.run(self._deliver_indexed)
        return self.send(
            Notification(_channel(channel), to, body, template, data or EMPTY, fields, provider)
        )

    @overload
    async def anotify(
        self,
        channel: str,
        to: str,
        *,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
        provider: str | None = None,
        **fields: Any,
    ) -> Receipt: ...

    @overload
    async def anotify(
        self, *, notification: str, to: ContactLike, data: Mapping[str, Any] | None = None
    ) -> list[Receipt]: ...

    async def anotify(
        self,
        channel: str | None = None,
        to: Any = None,
        *,
        notification: str | None = None,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
        provider: str | None = None,
        **fields: Any,
    ) -> Receipt | list[Receipt]:
        """Async :meth:`notify`."""
        if notification is not None:
            _contact_call(channel, body, template, provider, fields)
            ready = self._notifications.address(notification, to, data or EMPTY)
            return await ready.arun(self._adeliver_indexed)
        return await self.asend(
            Notification(_channel(channel), to, body, template, data or EMPTY, fields, provider)
        )

    def send(self, notification: Notification) -> Receipt:
        """:meth:`notify` for a :class:`Notification` value."""
        chain, message = self._compose(notification)
        receipt = deliver(message, chain, self.executor, self._hooks, throttle=self._throttle)
        if not receipt.ok:
            raise DeliveryError(receipt)
        return receipt

    async def asend(self, notification: Notification) -> Receipt:
        """Async :meth:`send`."""
        chain, message = self._compose(notification)
        receipt = await adeliver(
            message, chain, self.executor, self._hooks, throttle=self._throttle
        )
        if not receipt.ok:
            raise DeliveryError(receipt)
        return receipt

    @overload
    def notify_many(
        self,
        channel: str,
        recipients: Iterable[RecipientLike],
        *,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
        provider: str | None = None,
        ledger: Ledger | None = None,
        resend_unconfirmed: bool = False,
        retry_final: bool = False,
        **fields: Any,
    ) -> BulkReceipts: ...

    @overload
    def notify_many(
        self,
        *,
        notification: str,
        recipients: Iterable[ContactLike],
        data: Mapping[str, Any] | None = None,
    ) -> Iterator[Receipt]: ...

    def notify_many(
        self,
        channel: str | None = None,
        recipients: Iterable[Any] = (),
        *,
        notification: str | None = None,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
        provider: str | None = None,
        ledger: Ledger | None = None,
        resend_unconfirmed: bool = False,
        retry_final: bool = False,
        **fields: Any,
    ) -> Iterator[Receipt]:
        """Send to many recipients, one receipt each, in input order.

        Problems common to all recipients (unknown channel, template or
        per-message option) raise here, before anything is sent. Per-recipient problems (a malformed
        number, a missing template variable, a delivery failure) never raise:
        they come back as failed receipts. ``recipients`` is consumed lazily,
        so a generator of millions is fine, and **nothing is sent until the
        returned iterator is consumed** (``for receipt in ...``).

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
            _contact_call(channel, body, template, provider, fields)
            if ledger is not None:
                raise MessageError("ledger= records single-channel bulk sends only")
            check_recipients(recipients)
            self._notifications.settings(notification)  # unknown names raise now
            return self._notifications.send_each(
                notification, recipients, data or EMPTY, self._deliver_indexed, self._hooks.after
            )
        shared = Notification(
            _channel(channel), None, body, template, data or EMPTY, fields, provider
        )
        policy = ResendPolicy(resend_unconfirmed, retry_final)
        return self.send_many(shared, recipients, ledger=ledger, policy=policy)

    def send_many(
        self,
        notification: Notification,
        recipients: Iterable[RecipientLike],
        *,
        ledger: Ledger | None = None,
        policy: ResendPolicy | None = None,
    ) -> BulkReceipts:
        """:meth:`notify_many` for a :class:`Notification` value (its ``to`` is ignored)."""
        check_recipients(recipients)
        bulk = self._bulk_send(notification, ledger=ledger, policy=policy)
        return BulkReceipts(bulk.run(enumerate(recipients)), bulk.tally)

    @overload
    def anotify_many(
        self,
        channel: str,
        recipients: Iterable[RecipientLike] | AsyncIterable[RecipientLike],
        *,
        concurrency: int = 16,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
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
        data: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[Receipt]: ...

    def anotify_many(
        self,
        channel: str | None = None,
        recipients: Any = (),
        *,
        notification: str | None = None,
        concurrency: int = 16,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
        provider: str | None = None,
        ledger: Ledger | None = None,
        resend_unconfirmed: bool = False,
        retry_final: bool = False,
        **fields: Any,
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
            _contact_call(channel, body, template, provider, fields)
            if ledger is not None:
                raise MessageError("ledger= records single-channel bulk sends only")
            if concurrency < 1:
                raise MessageError(f"concurrency must be at least 1, got {concurrency}")
            check_recipients(recipients)
            self._notifications.settings(notification)  # unknown names raise now
            return self._notifications.asend_each(
                notification,
                recipients,
                data or EMPTY,
                self._adeliver_indexed,
                self._hooks.after,
                min(concurrency, self.config.executor.max_connections),
            )
        shared = Notification(
            _channel(channel), None, body, template, data or EMPTY, fields, provider
        )
        policy = ResendPolicy(resend_unconfirmed, retry_final)
        return self.asend_many(
            shared, recipients, concurrency=concurrency, ledger=ledger, policy=policy
        )

    def asend_many(
        self,
        notification: Notification,
        recipients: Iterable[RecipientLike] | AsyncIterable[RecipientLike],
        *,
        concurrency: int = 16,
        ledger: Ledger | None = None,
        policy: ResendPolicy | None = None,
    ) -> AsyncBulkReceipts:
        """:meth:`anotify_many` for a :class:`Notification` value (its ``to`` is ignored)."""
        check_recipients(recipients)
        bulk = self._bulk_send(notification, ledger=ledger, policy=policy)
        workers = self.bulk_workers(concurrency)
        return AsyncBulkReceipts(bulk.arun(indexed(recipients), workers), bulk.tally)

    def bulk_workers(self, concurrency: int) -> int:
        """How many rows a bulk send may have in flight for ``concurrency``.

        Requests beyond the connection pool would only wait for a connection,
        and every waiting task adds garbage-collector work and scheduling
        (docs/performance.md, "Pool size"), so no more than connections.
        """
        if concurrency < 1:
            raise MessageError(f"concurrency must be at least 1, got {concurrency}")
        return min(concurrency, self.config.executor.max_connections)

    # -- background jobs (Celery) --------------------------------------------

    def enqueue(
        self,
        channel: str,
        to: str,
        *,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
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
        data: Mapping[str, Any] | None = None,
        provider: str | None = None,
        **fields: Any,
    ) -> str:
        """Hand a bulk send to the Celery workers in chunks; returns the job id.

        Needs the ``celery:`` section (``pip install 'norq[celery]'``). Problems
        common to all recipients raise here, before anything is enqueued; each
        recipient's own problems become failed receipts, as in :meth:`notify_many`.
        Workers send with the same providers, limits and executor as this process.
        """
        shared = Notification(channel, None, body, template, data or EMPTY, fields, provider)
        self._router.plan(shared)
        return self._jobs().enqueue_many(shared, recipients)

    def job(self, job_id: str) -> JobStatus:
        """A job's progress so far; :meth:`job_receipts` has its receipts."""
        return self._jobs().jobs.status(job_id)

    def job_receipts(self, job_id: str) -> Iterator[Receipt]:
        """The receipts of a job so far, in recipient order."""
        return self._jobs().jobs.receipts(job_id)

    def _jobs(self) -> Dispatcher:
        if self._dispatcher is None:
            if self.config.celery is None:
                raise MessageError(
                    f"background jobs need a celery: section in the config, with at least "
                    f"broker_url: redis://HOST:6379/0 (see docs/scale.md); Norq read "
                    f"{self.config.read_from()}"
                )
            try:
                from norq.jobs.dispatch import Dispatcher
            except ImportError as exc:
                raise MessageError(
                    f"background jobs need the celery extra ({exc.name} is missing): "
                    "pip install 'norq[celery]'"
                ) from None
            self._dispatcher = Dispatcher(self, self.config.celery)
        return self._dispatcher

    # -- dry run ------------------------------------------------------------

    @overload
    def prepare(
        self,
        channel: str,
        to: str,
        *,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
        provider: str | None = None,
        **fields: Any,
    ) -> PreparedNotification: ...

    @overload
    def prepare(
        self, *, notification: str, to: ContactLike, data: Mapping[str, Any] | None = None
    ) -> list[PreparedNotification]: ...

    def prepare(
        self,
        channel: str | None = None,
        to: Any = None,
        *,
        notification: str | None = None,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
        provider: str | None = None,
        **fields: Any,
    ) -> PreparedNotification | list[PreparedNotification]:
        """Build the request the first provider would send, without sending anything.

        With ``notification=NAME``: one for each channel the contact has an
        address on, whatever the strategy would send.
        """
        if notification is not None:
            _contact_call(channel, body, template, provider, fields)
            ready = self._notifications.address(notification, to, data or EMPTY)
            return [_prepared(chain, message) for chain, message in ready.composed]
        return self.preview(
            Notification(_channel(channel), to, body, template, data or EMPTY, fields, provider)
        )

    def preview(self, notification: Notification) -> PreparedNotification:
        """:meth:`prepare` for a :class:`Notification` value."""
        return _prepared(*self._compose(notification))

    # -- status queries -----------------------------------------------------

    def status(self, message_id: str, *, provider: str | None = None) -> MessageStatus:
        """Fetch one message's current status from its provider."""
        chosen = queries.query_provider(self.providers, provider)
        throttle = self._throttle(chosen, query=True)
        return queries.status(self.executor, chosen, message_id, throttle)

    def messages(
        self,
        query: MessageQuery | None = None,
        *,
        provider: str | None = None,
        limit: int | None = None,
    ) -> Iterator[MessageStatus]:
        """Sent messages matching ``query``, newest first, fetched page by page as consumed."""
        chosen = queries.query_provider(self.providers, provider)
        throttle = self._throttle(chosen, query=True)
        return queries.messages(self.executor, chosen, query or MessageQuery(), limit, throttle)

    # -- raw requests -------------------------------------------------------

    def raw_request(
        self, provider: str, method: str, path: str, params: Params = ()
    ) -> RawResponse:
        """Send any request to ``provider``'s API with its base URL and credentials.

        ``path`` is below the provider's base URL and may use the placeholders
        it declares (Twilio: ``{AccountSid}``); ``params`` go in the query
        string of a GET or DELETE and in a form otherwise. A failed answer is
        returned, not raised; a malformed request raises before anything is sent.
        """
        from norq.raw import raw_request

        chosen = self.providers.get(provider)
        if chosen is None:
            known = ", ".join(sorted(self.providers)) or "none are configured"
            raise MessageError(f"unknown provider {provider!r}; configured providers: {known}")
        # A raw call spends the instance's request rate as a status query does.
        throttle = self._throttle(chosen, query=True)
        return raw_request(self.executor, chosen, method, path, params, throttle)

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        if self._built_executor is not None:
            self._built_executor.close()
        self._close_stores()

    async def aclose(self) -> None:
        if self._built_executor is not None:
            await self._built_executor.aclose()
        self._close_stores()

    def _close_stores(self) -> None:
        if self._limit_store is not None:
            self._limit_store.close()
        if self._dispatcher is not None:
            self._dispatcher.close()
            self._dispatcher = None

    def __enter__(self) -> Norq:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Norq:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- internals ----------------------------------------------------------

    def _compose(self, notification: Notification) -> tuple[tuple[Provider, ...], Message]:
        """Route and build a single notification; raise on any bad input."""
        chain = self._router.plan(notification)
        return chain, self._router.compose(notification, chain)

    def _bulk_send(
        self,
        notification: Notification,
        *,
        ledger: Ledger | None = None,
        policy: ResendPolicy | None = None,
    ) -> BulkSend:
        """The bulk engine for one run of ``notification`` (the library's, the CLI's and
        the workers'). Problems every recipient shares raise here, before anything is sent."""
        chain = self._router.plan(notification)
        return BulkSend(
            notification,
            chain,
            self._router.compose,
            self._hooks.after,
            deliver=self._deliver_indexed,
            adeliver=self._adeliver_indexed,
            ledger=ledger,
            policy=policy,
            lookup=self._lookup,
            redact=self.redactor.text,
        )

    def _lookup(self, notification: Notification, provider: str, since: dt.datetime) -> str | None:
        from norq.reconcile import find_sent

        return find_sent(self, replace(notification, provider=provider), since=since)

    def _deliver_indexed(
        self, message: Message, chain: tuple[Provider, ...], index: int | None = None
    ) -> Receipt:
        return deliver(message, chain, self.executor, self._hooks, index, throttle=self._throttle)

    async def _adeliver_indexed(
        self, message: Message, chain: tuple[Provider, ...], index: int | None = None
    ) -> Receipt:
        return await adeliver(
            message, chain, self.executor, self._hooks, index, throttle=self._throttle
        )


def _prepared(chain: tuple[Provider, ...], message: Message) -> PreparedNotification:
    first = chain[0]
    return PreparedNotification(
        first.instance, message, first.prepare_send(message), first.describe(message)
    )


def _channel(channel: str | None) -> str:
    if channel is None:
        raise MessageError("pass a channel, or notification= to send a multi-channel notification")
    return channel


def _contact_call(
    channel: str | None,
    body: str | None,
    template: str | None,
    provider: str | None,
    fields: Mapping[str, Any],
) -> None:
    """Refuse single-channel arguments next to ``notification=``: the config has them."""
    given = [
        name
        for name, value in (
            ("channel", channel),
            ("body", body),
            ("template", template),
            ("provider", provider),
        )
        if value is not None
    ] + sorted(fields)
    if given:
        raise MessageError(
            "with notification=, the channels, templates and providers come from the "
            f"config's notifications: entry; drop {', '.join(f'{name}=' for name in given)}"
        )


# -- the module-level API ------------------------------------------------------

_default: Norq | None = None
_default_lock = threading.Lock()


def default_norq() -> Norq:
    """The process-wide Norq from the discovered config, created on first use.

    It is closed at interpreter exit, or earlier by :func:`close` / :func:`aclose`.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Norq.discover()
                atexit.register(close)
    return _default


def close() -> None:
    """Close the module-level default Norq (the one ``norq.notify`` uses), if it exists.

    Its connections are released; the next ``norq.notify`` builds a new one.
    Async clients still in use by a running event loop are closed in that loop.
    """
    global _default
    with _default_lock:
        default, _default = _default, None
    if default is not None:
        default.close()


async def aclose() -> None:
    """Async :func:`close`: the running loop's clients are closed by awaiting them."""
    global _default
    with _default_lock:
        default, _default = _default, None
    if default is not None:
        await default.aclose()


@overload
def notify(
    channel: str,
    to: str,
    *,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
    **fields: Any,
) -> Receipt: ...


@overload
def notify(
    *, notification: str, to: ContactLike, data: Mapping[str, Any] | None = None
) -> list[Receipt]: ...


def notify(
    channel: str | None = None,
    to: Any = None,
    *,
    notification: str | None = None,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
    **fields: Any,
) -> Receipt | list[Receipt]:
    """:meth:`Norq.notify` on the discovered default config."""
    app = default_norq()
    if notification is not None:
        _contact_call(channel, body, template, provider, fields)
        return app.notify(notification=notification, to=to, data=data)
    return app.notify(
        _channel(channel), to, body=body, template=template, data=data, provider=provider, **fields
    )


@overload
async def anotify(
    channel: str,
    to: str,
    *,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
    **fields: Any,
) -> Receipt: ...


@overload
async def anotify(
    *, notification: str, to: ContactLike, data: Mapping[str, Any] | None = None
) -> list[Receipt]: ...


async def anotify(
    channel: str | None = None,
    to: Any = None,
    *,
    notification: str | None = None,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
    **fields: Any,
) -> Receipt | list[Receipt]:
    """:meth:`Norq.anotify` on the discovered default config."""
    app = default_norq()
    if notification is not None:
        _contact_call(channel, body, template, provider, fields)
        return await app.anotify(notification=notification, to=to, data=data)
    return await app.anotify(
        _channel(channel), to, body=body, template=template, data=data, provider=provider, **fields
    )
