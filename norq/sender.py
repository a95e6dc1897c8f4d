"""Sending :class:`~norq.notification.Notification` values: what :class:`norq.Norq` is built on.

A :class:`Sender` is made from a config (:meth:`Sender.from_yaml`,
:meth:`Sender.discover`...) and sends values: one notification, many
recipients of a shared one, a dry run, status queries and raw requests.
The CLI, the bulk engine and the Celery workers work in these values;
:class:`norq.Norq` adds the keyword-argument verbs (``notify(channel, to,
body=...)``) on top. The parts it sends through are :mod:`norq.wiring`'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import pluggy
from typing_extensions import Unpack

from norq import dryrun, queries
from norq.bulk import (
    DEFAULT_STORE_PATIENCE,
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
from norq.errors import DeliveryError, MessageError
from norq.ledger import Ledger, ResendPolicy
from norq.notification import Notification
from norq.plugins import get_plugin_manager, provider_registry
from norq.provider import MessageQuery, MessageStatus, Provider
from norq.receipt import Receipt
from norq.wiring import Parts, Wiring

if TYPE_CHECKING:
    from norq.contact import ContactLike
    from norq.dryrun import PreparedNotification
    from norq.executor import Executor
    from norq.raw import Params, RawResponse


class Sender:
    """A configured sender of notification values. Use it as a context manager to close its pools.

    ``parts`` are ready parts used instead of those the config describes
    (:class:`norq.wiring.Parts`): ``transports={"http": MockTransport()}`` in
    tests, ``console_stream`` for the console provider's output.
    """

    def __init__(
        self,
        config: NorqConfig,
        *,
        plugin_manager: pluggy.PluginManager | None = None,
        **parts: Unpack[Parts],
    ) -> None:
        self.config = config
        self._wiring = Wiring(config, plugin_manager=plugin_manager, **parts)
        self.redactor = self._wiring.redactor
        #: Background jobs on Celery workers (:class:`norq.wiring.Jobs`).
        self.jobs = self._wiring.jobs

    @classmethod
    def from_dict(
        cls,
        document: Mapping[str, Any] | None,
        *,
        environ: Mapping[str, str] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
        base_dir: str | Path | None = None,
        **parts: Unpack[Parts],
    ) -> Self:
        """Build from an already parsed config (same shape as the YAML)."""
        pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
        config = load_config(
            dict(document) if isinstance(document, Mapping) else document,
            provider_registry(pm),
            environ=environ,
            base_dir=Path(base_dir) if base_dir is not None else None,
        )
        return cls(config, plugin_manager=pm, **parts)

    @classmethod
    def from_yaml(
        cls,
        path: str | Path,
        *,
        environ: Mapping[str, str] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
        **parts: Unpack[Parts],
    ) -> Self:
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
        return cls(config, plugin_manager=pm, **parts)

    @classmethod
    def discover(cls, *, environ: Mapping[str, str] | None = None) -> Self:
        """``$NORQ_CONFIG``, else ``./norq.yaml``, else providers from the environment."""
        path = discover_config_path(environ)
        if path is None:
            pm = get_plugin_manager()
            registry = provider_registry(pm)
            return cls(
                load_config({}, registry, environ=environ, source=NO_CONFIG_FILE), plugin_manager=pm
            )
        return cls.from_yaml(path, environ=environ)

    @property
    def providers(self) -> Mapping[str, Provider]:
        return self.config.providers

    @property
    def routing(self) -> Mapping[str, tuple[str, ...]]:
        return self.config.routing

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        return self._wiring.plugin_manager

    @property
    def executor(self) -> Executor:
        """The executor that sends, built on first send (a dry run never builds it)."""
        return self._wiring.executor

    def __repr__(self) -> str:
        routes = ", ".join(f"{c}: {'|'.join(chain)}" for c, chain in self.routing.items())
        return (
            f"<{type(self).__name__} providers=[{', '.join(self.providers)}] routing={{{routes}}}>"
        )

    def send(self, notification: Notification) -> Receipt:
        """Send one notification; raise :class:`DeliveryError` if it finally fails."""
        receipt = self._wiring.deliver(self._wiring.compose(notification))
        if not receipt.ok:
            raise DeliveryError(receipt)
        return receipt

    async def asend(self, notification: Notification) -> Receipt:
        """Async :meth:`send`."""
        receipt = await self._wiring.adeliver(self._wiring.compose(notification))
        if not receipt.ok:
            raise DeliveryError(receipt)
        return receipt

    def send_many(
        self,
        notification: Notification,
        recipients: Iterable[RecipientLike],
        *,
        ledger: Ledger | None = None,
        policy: ResendPolicy | None = None,
    ) -> BulkReceipts:
        """Send ``notification`` (its ``to`` is ignored) to each recipient; see ``notify_many``."""
        check_recipients(recipients)
        bulk = self.bulk_send(notification, ledger=ledger, policy=policy)
        return BulkReceipts(bulk.run(enumerate(recipients)), bulk.tally)

    def asend_many(
        self,
        notification: Notification,
        recipients: Iterable[RecipientLike] | AsyncIterable[RecipientLike],
        *,
        concurrency: int = 16,
        ledger: Ledger | None = None,
        policy: ResendPolicy | None = None,
    ) -> AsyncBulkReceipts:
        """Async :meth:`send_many` with up to ``concurrency`` in flight; see ``anotify_many``."""
        check_recipients(recipients)
        bulk = self.bulk_send(notification, ledger=ledger, policy=policy)
        workers = self.bulk_workers(concurrency)
        return AsyncBulkReceipts(bulk.arun(indexed(recipients), workers), bulk.tally)

    def send_each(
        self, name: str, contacts: Iterable[ContactLike], data: Mapping[str, Any]
    ) -> Iterator[Receipt]:
        """The config's multi-channel notification ``name`` to each of ``contacts``.

        One receipt per channel tried, ``receipt.index`` the contact's
        position; a contact's problem is one failed receipt. An unknown
        ``name`` raises here, before anything is sent.
        """
        check_recipients(contacts)
        wiring = self._wiring
        wiring.notifications.settings(name)
        return wiring.notifications.send_each(
            name, contacts, data, wiring.deliver, wiring.hooks.after
        )

    def asend_each(
        self,
        name: str,
        contacts: Iterable[ContactLike],
        data: Mapping[str, Any],
        *,
        concurrency: int = 16,
    ) -> AsyncIterator[Receipt]:
        """Async :meth:`send_each`, serving up to ``concurrency`` contacts at once."""
        workers = self.bulk_workers(concurrency)
        check_recipients(contacts)
        wiring = self._wiring
        wiring.notifications.settings(name)
        return wiring.notifications.asend_each(
            name, contacts, data, wiring.adeliver, wiring.hooks.after, workers
        )

    def bulk_send(
        self,
        notification: Notification,
        *,
        ledger: Ledger | None = None,
        policy: ResendPolicy | None = None,
        store_patience: float = DEFAULT_STORE_PATIENCE,
    ) -> BulkSend:
        """The bulk engine for one run of ``notification``: what :meth:`send_many`
        drives, and the CLI and the workers drive themselves (to stop it on a signal,
        to show progress). ``store_patience`` is how long a ledger call waits for an
        unusable store. Problems every recipient shares raise here, before anything is sent."""
        return self._wiring.bulk(
            notification,
            ledger=ledger,
            policy=policy,
            lookup=self._lookup,
            store_patience=store_patience,
        )

    def bulk_workers(self, concurrency: int) -> int:
        """How many rows a bulk send may have in flight for ``concurrency``.

        Requests beyond the connection pool would only wait for a connection,
        and every waiting task adds garbage-collector work and scheduling
        (docs/performance.md, "Pool size"), so no more than connections.
        """
        if concurrency < 1:
            raise MessageError(f"concurrency must be at least 1, got {concurrency}")
        return min(concurrency, self.config.executor.max_connections)

    def preview(self, notification: Notification) -> PreparedNotification:
        """The request the first provider would send for ``notification``; nothing is sent."""
        return dryrun.prepare(self._wiring.compose(notification))

    def status(self, message_id: str, *, provider: str | None = None) -> MessageStatus:
        """Fetch one message's current status from its provider."""
        chosen = queries.query_provider(self.providers, provider)
        throttle = self._wiring.throttles.of(chosen, query=True)
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
        throttle = self._wiring.throttles.of(chosen, query=True)
        return queries.messages(self.executor, chosen, query or MessageQuery(), limit, throttle)

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
        throttle = self._wiring.throttles.of(chosen, query=True)
        return raw_request(self.executor, chosen, method, path, params, throttle)

    def close(self) -> None:
        self._wiring.close()

    async def aclose(self) -> None:
        await self._wiring.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _lookup(self, notification: Notification, provider: str, since: dt.datetime) -> str | None:
        """Whether ``provider`` has a message like ``notification`` sent since ``since``."""
        from norq.reconcile import find_sent

        return find_sent(self, replace(notification, provider=provider), since=since)
