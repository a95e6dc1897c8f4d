"""The application API: :class:`Norq` and the module-level ``notify`` / ``anotify``.

A notification's path: the router picks the providers and builds the message,
each provider describes its request (``prepare_send``), the executor sends it,
and the outcome becomes a :class:`~norq.receipt.Receipt`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import pluggy

from norq.config import NorqConfig, discover_config_path, load_config, read_yaml
from norq.errors import DeliveryError, MessageError, QueryError
from norq.message import Message
from norq.plugins import get_plugin_manager, provider_registry
from norq.provider import MessageQuery, MessageStatus, Provider
from norq.receipt import DeliveryFailure, Receipt
from norq.redaction import Redactor
from norq.request import Prepared, PreparedRequest
from norq.response import Disposition
from norq.router import Router

if TYPE_CHECKING:
    from norq.executor import Executor, Outcome
    from norq.transports import Transport

logger = logging.getLogger("norq")


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of a bulk send, with its own template data and options."""

    to: str
    data: Mapping[str, Any] | None = None
    fields: Mapping[str, Any] | None = None


RecipientLike = str | Recipient | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PreparedNotification:
    """A notification built but not sent: what a dry run shows."""

    provider: str
    message: Message
    request: Prepared
    notes: Mapping[str, str]


class Norq:
    """A configured notification sender. Use it as a context manager to close its pools."""

    def __init__(
        self,
        config: NorqConfig,
        *,
        plugin_manager: pluggy.PluginManager | None = None,
        executor: Executor | None = None,
        console_stream: IO[str] | None = None,
        transports: Mapping[str, Transport] | None = None,
    ) -> None:
        if executor is not None and (console_stream is not None or transports):
            raise ValueError(
                "pass console_stream and transports to the Executor you provide, not to Norq"
            )
        self.config = config
        self._pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
        self._router = Router(config.routing, config.providers, config.templates)
        self._transports = dict(transports or {})
        if console_stream is not None:
            from norq.providers.console import TRANSPORT, ConsoleTransport

            self._transports[TRANSPORT] = ConsoleTransport(stream=console_stream)
        self._built_executor = executor
        # Calling a hook with no implementations still costs; skip it then.
        self._observe_before = bool(self._pm.hook.before_send.get_hookimpls())
        self._observe_after = bool(self._pm.hook.after_send.get_hookimpls())
        self.redactor = Redactor(config.secret_values())

    @property
    def _executor(self) -> Executor:
        # Built on first send: a dry run or a config check never imports the
        # executor and its transports.
        executor = self._built_executor
        if executor is None:
            from norq.executor import Executor
            from norq.plugins import transport_registry

            settings = self.config.executor
            executor = self._built_executor = Executor(
                timeout=settings.timeout,
                connect_timeout=settings.connect_timeout,
                max_connections=settings.max_connections,
                async_transport=settings.async_transport,
                factories=transport_registry(self._pm),
                transports=self._transports,
            )
        return executor

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
    ) -> Norq:
        """Build from an already parsed config (same shape as the YAML)."""
        pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
        config = load_config(
            dict(document) if isinstance(document, Mapping) else document,
            provider_registry(pm),
            environ=environ,
            base_dir=Path(base_dir) if base_dir is not None else None,
        )
        return cls(config, plugin_manager=pm, executor=executor, console_stream=console_stream)

    @classmethod
    def from_yaml(
        cls,
        path: str | Path,
        *,
        environ: Mapping[str, str] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
        executor: Executor | None = None,
        console_stream: IO[str] | None = None,
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
        return cls(config, plugin_manager=pm, executor=executor, console_stream=console_stream)

    @classmethod
    def discover(cls, *, environ: Mapping[str, str] | None = None) -> Norq:
        """``$NORQ_CONFIG``, else ``./norq.yaml``, else providers from the environment."""
        path = discover_config_path(environ)
        if path is None:
            return cls.from_dict({}, environ=environ)
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
    ) -> Receipt:
        """Send one notification; raise :class:`DeliveryError` if it finally fails."""
        chain, message = self._one_message(channel, to, body, template, data, provider, fields)
        receipt = self._deliver(message, chain, None)
        if not receipt.ok:
            raise DeliveryError(receipt)
        return receipt

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
    ) -> Receipt:
        """Async :meth:`notify`."""
        chain, message = self._one_message(channel, to, body, template, data, provider, fields)
        receipt = await self._adeliver(message, chain, None)
        if not receipt.ok:
            raise DeliveryError(receipt)
        return receipt

    def notify_many(
        self,
        channel: str,
        recipients: Iterable[RecipientLike],
        *,
        body: str | None = None,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
        provider: str | None = None,
        **fields: Any,
    ) -> Iterator[Receipt]:
        """Send to many recipients, one receipt each, in input order.

        Problems common to all recipients (unknown channel or template) raise
        here, before anything is sent. Per-recipient problems (a malformed
        number, a missing template variable, a delivery failure) never raise:
        they come back as failed receipts. ``recipients`` is consumed lazily,
        so a generator of millions is fine, and **nothing is sent until the
        returned iterator is consumed** (``for receipt in ...``).
        """
        chain = self._router.plan(channel, provider, body, template)
        return self._send_each(channel, recipients, chain, body, template, data, fields)

    def _send_each(
        self,
        channel: str,
        recipients: Iterable[RecipientLike],
        chain: tuple[Provider, ...],
        body: str | None,
        template: str | None,
        data: Mapping[str, Any] | None,
        fields: Mapping[str, Any],
    ) -> Iterator[Receipt]:
        for index, item in enumerate(recipients):
            message_or_receipt = self._compose_one(
                channel, item, index, chain, body, template, data, fields
            )
            if isinstance(message_or_receipt, Receipt):
                yield message_or_receipt
            else:
                yield self._deliver(message_or_receipt, chain, index)

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
        **fields: Any,
    ) -> AsyncIterator[Receipt]:
        """Async bulk send with up to ``concurrency`` requests in flight.

        The connection pool bounds it too: never more than
        ``executor.max_connections`` (default 64) at once.

        Receipts arrive in completion order; ``receipt.index`` is the
        recipient's position in the input. Use ``async for``.
        """
        if concurrency < 1:
            raise MessageError(f"concurrency must be at least 1, got {concurrency}")
        chain = self._router.plan(channel, provider, body, template)
        return self._asend_each(
            channel, recipients, chain, concurrency, body, template, data, fields
        )

    async def _asend_each(
        self,
        channel: str,
        recipients: Iterable[RecipientLike] | AsyncIterable[RecipientLike],
        chain: tuple[Provider, ...],
        concurrency: int,
        body: str | None,
        template: str | None,
        data: Mapping[str, Any] | None,
        fields: Mapping[str, Any],
    ) -> AsyncIterator[Receipt]:
        import asyncio  # here, not at the top: a dry run never needs it

        done = object()
        # Bounded, so a slow consumer slows the senders instead of piling up receipts.
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=concurrency * 2)
        next_item = _item_source(recipients)
        consumer_gone = False

        async def worker() -> None:
            while (entry := await next_item()) is not None:
                index, item = entry
                composed = self._compose_one(
                    channel, item, index, chain, body, template, data, fields
                )
                if not isinstance(composed, Receipt):
                    composed = await self._adeliver(composed, chain, index)
                await queue.put(composed)

        # Requests beyond the connection pool would only wait for a connection,
        # and every waiting task adds garbage-collector work and scheduling
        # (docs/performance.md, "Pool size"), so no more workers than connections.
        workers = min(concurrency, self.config.executor.max_connections)

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

    # -- dry run ------------------------------------------------------------

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
    ) -> PreparedNotification:
        """Build the request the first provider would send, without sending anything."""
        chain, message = self._one_message(channel, to, body, template, data, provider, fields)
        first = chain[0]
        return PreparedNotification(
            first.instance, message, first.prepare_send(message), first.describe(message)
        )

    # -- status queries -----------------------------------------------------

    def status(self, message_id: str, *, provider: str | None = None) -> MessageStatus:
        """Fetch one message's current status from its provider."""
        chosen = self._query_provider(provider)
        outcome = self._executor.send(chosen.prepare_status(message_id))
        _raise_for_query(outcome, f"fetching {message_id} from {chosen.instance}")
        return chosen.read_status(outcome.data)

    def messages(
        self,
        query: MessageQuery | None = None,
        *,
        provider: str | None = None,
        limit: int | None = None,
    ) -> Iterator[MessageStatus]:
        """Sent messages matching ``query``, newest first, fetched page by page as consumed."""
        chosen = self._query_provider(provider)
        request: PreparedRequest | None = chosen.prepare_list(query or MessageQuery())
        return self._pages(chosen, request, limit)

    def _pages(
        self, chosen: Provider, request: PreparedRequest | None, limit: int | None
    ) -> Iterator[MessageStatus]:
        produced = 0
        while request is not None:
            if limit is not None and produced >= limit:
                return  # do not fetch a page nobody will read
            outcome = self._executor.send(request)
            _raise_for_query(outcome, f"listing messages from {chosen.instance}")
            page = chosen.read_page(outcome.data)
            for item in page.items:
                if limit is not None and produced >= limit:
                    return
                produced += 1
                yield item
            request = page.next_request

    def _query_provider(self, name: str | None) -> Provider:
        if name is not None:
            found = self.providers.get(name)
            if found is None:
                known = ", ".join(sorted(self.providers)) or "none are configured"
                raise MessageError(f"unknown provider {name!r}; configured providers: {known}")
            return found
        capable = [p for p in self.providers.values() if _supports_queries(p)]
        if len(capable) == 1:
            return capable[0]
        if not capable:
            raise MessageError("no configured provider supports status queries")
        names = ", ".join(p.instance for p in capable)
        raise MessageError(f"several providers support status queries ({names}); pick one")

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        if self._built_executor is not None:
            self._built_executor.close()

    async def aclose(self) -> None:
        if self._built_executor is not None:
            await self._built_executor.aclose()

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

    def _one_message(
        self,
        channel: str,
        to: str,
        body: str | None,
        template: str | None,
        data: Mapping[str, Any] | None,
        provider: str | None,
        fields: Mapping[str, Any],
    ) -> tuple[tuple[Provider, ...], Message]:
        """Route and build a single notification; raise on any bad input."""
        chain = self._router.plan(channel, provider, body, template)
        message = self._router.compose(
            channel, to, chain, body=body, template=template, data=data, fields=fields
        )
        return chain, message

    def _compose_one(
        self,
        channel: str,
        item: RecipientLike,
        index: int,
        chain: tuple[Provider, ...],
        body: str | None,
        template: str | None,
        data: Mapping[str, Any] | None,
        fields: Mapping[str, Any],
    ) -> Message | Receipt:
        """The message for one bulk recipient, or a failed receipt saying why not."""
        to: Any = item
        try:
            recipient = _as_recipient(item)
            to = recipient.to
            merged_data = data
            if recipient.data:
                merged_data = {**data, **recipient.data} if data else recipient.data
            merged_fields = {**fields, **recipient.fields} if recipient.fields else fields
            return self._router.compose(
                channel,
                recipient.to,
                chain,
                body=body,
                template=template,
                data=merged_data,
                fields=merged_fields,
            )
        except MessageError as exc:
            receipt = Receipt(
                ok=False,
                channel=channel,
                provider=chain[0].instance,
                to=to if isinstance(to, str) else repr(to),
                attempts=0,
                error=DeliveryFailure(code=exc.code, message=str(exc)),
                index=index,
            )
            self._after(receipt)
            return receipt

    def _deliver(self, message: Message, chain: tuple[Provider, ...], index: int | None) -> Receipt:
        attempts = 0
        for position, provider in enumerate(chain):
            request = provider.prepare_send(message)
            if self._observe_before:
                self._before(request, message, provider)
            outcome = self._executor.send(request, provider.read_send)
            attempts += outcome.attempts
            if not _should_fail_over(outcome, position, chain):
                break
        return self._receipt(message, provider, outcome, attempts, index)

    async def _adeliver(
        self, message: Message, chain: tuple[Provider, ...], index: int | None
    ) -> Receipt:
        attempts = 0
        for position, provider in enumerate(chain):
            request = provider.prepare_send(message)
            if self._observe_before:
                self._before(request, message, provider)
            outcome = await self._executor.asend(request, provider.read_send)
            attempts += outcome.attempts
            if not _should_fail_over(outcome, position, chain):
                break
        return self._receipt(message, provider, outcome, attempts, index)

    def _receipt(
        self,
        message: Message,
        provider: Provider,
        outcome: Outcome,
        attempts: int,
        index: int | None,
    ) -> Receipt:
        receipt = Receipt(
            ok=outcome.ok,
            channel=message.channel,
            provider=provider.instance,
            to=message.to,
            message_id=outcome.message_id,
            status_code=outcome.status_code,
            attempts=attempts,
            error=outcome.error,
            index=index,
        )
        if self._observe_after:
            self._after(receipt)
        return receipt

    def _before(self, request: Prepared, message: Message, provider: Provider) -> None:
        try:
            self._pm.hook.before_send(request=request, message=message, provider=provider.instance)
        except Exception:
            # Observability must not stop delivery; the plugin's bug is logged.
            logger.exception("a before_send hook failed; the notification is sent anyway")

    def _after(self, receipt: Receipt) -> None:
        if not self._observe_after:
            return
        try:
            self._pm.hook.after_send(receipt=receipt)
        except Exception:
            logger.exception("an after_send hook failed")


def _should_fail_over(outcome: Outcome, position: int, chain: tuple[Provider, ...]) -> bool:
    if outcome.ok or outcome.error is None or outcome.error.disposition == Disposition.FINAL:
        return False
    if position + 1 >= len(chain):
        return False
    logger.warning(
        "%s failed (%s: %s); failing over to %s",
        chain[position].instance,
        outcome.error.code,
        outcome.error.message,
        chain[position + 1].instance,
    )
    return True


def _supports_queries(provider: Provider) -> bool:
    return type(provider).prepare_status is not Provider.prepare_status


def _raise_for_query(outcome: Outcome, what: str) -> None:
    if outcome.ok:
        return
    error = outcome.error
    detail = f"{error.code}: {error.message}" if error else "failed"
    raise QueryError(f"{what} failed: {detail}", error)


def _as_recipient(item: RecipientLike) -> Recipient:
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
) -> Any:
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


# -- the module-level API ------------------------------------------------------

_default: Norq | None = None


def default_norq() -> Norq:
    """The process-wide Norq from the discovered config, created on first use."""
    global _default
    if _default is None:
        _default = Norq.discover()
    return _default


def notify(
    channel: str,
    to: str,
    *,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
    **fields: Any,
) -> Receipt:
    """:meth:`Norq.notify` on the discovered default config."""
    return default_norq().notify(
        channel, to, body=body, template=template, data=data, provider=provider, **fields
    )


async def anotify(
    channel: str,
    to: str,
    *,
    body: str | None = None,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    provider: str | None = None,
    **fields: Any,
) -> Receipt:
    """:meth:`Norq.anotify` on the discovered default config."""
    return await default_norq().anotify(
        channel, to, body=body, template=template, data=data, provider=provider, **fields
    )
