"""The composition root: the parts a Norq is made of, wired once from a validated config.

:class:`Wiring` builds and owns them: the plugin manager, the router, the
plugins' hooks, the redactor, the executor, each provider's throttle and the
background jobs, and puts them together to compose and deliver a message.
:class:`norq.sender.Sender` (and so :class:`norq.Norq`) sends through them;
so do the bulk engine and the Celery workers. Nothing is built before it is
needed: the executor (and its HTTP clients) on the first send, a provider's
throttle on its first request, the jobs' connections on the first enqueue.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING, TypedDict

import pluggy

from norq import intercept
from norq.bulk import DEFAULT_STORE_PATIENCE, BulkSend, Lookup
from norq.delivery import Hooks, adeliver, deliver
from norq.dryrun import RequestRedactor
from norq.errors import ConfigError, MessageError
from norq.multichannel import Notifications
from norq.plugins import get_plugin_manager, transport_registry
from norq.router import Composed, Router
from norq.throttle import Throttles

if TYPE_CHECKING:
    from norq.bulk import RecipientLike
    from norq.config import NorqConfig
    from norq.executor import Executor
    from norq.jobs.dispatch import Dispatcher
    from norq.jobs.store import JobStore
    from norq.ledger import Ledger, ResendPolicy
    from norq.notification import Notification
    from norq.observe import Observer
    from norq.receipt import Receipt
    from norq.throttle import LimitStore
    from norq.transports.base import Transport


class Parts(TypedDict, total=False):
    """Ready parts a caller may hand in instead of having them built from the config.

    ``executor`` replaces the one the ``executor:`` settings would build;
    ``transports`` replaces registered transports by name with ready
    instances (``{"http": norq.testing.MockTransport()}`` in tests), and
    ``console_stream`` is where the console provider prints: both go to the
    executor Norq builds, so they cannot come with an ``executor``.
    ``limit_store`` keeps the rate limits' timelines (default: in this
    process, or in Redis when the config has a ``celery:`` section).
    ``observer`` is told about every notification and attempt
    (:mod:`norq.observe`); by default it is OpenTelemetry's when the
    config's ``telemetry:`` section turns it on.
    """

    executor: Executor | None
    transports: Mapping[str, Transport] | None
    console_stream: IO[str] | None
    limit_store: LimitStore | None
    observer: Observer | None


class Wiring:
    """The router, the delivery flow and what it sends with, for one config."""

    def __init__(
        self,
        config: NorqConfig,
        *,
        plugin_manager: pluggy.PluginManager | None = None,
        executor: Executor | None = None,
        transports: Mapping[str, Transport] | None = None,
        console_stream: IO[str] | None = None,
        limit_store: LimitStore | None = None,
        observer: Observer | None = None,
    ) -> None:
        if executor is not None and (console_stream is not None or transports):
            raise ValueError(
                "pass console_stream and transports to the Executor you provide, not to Norq"
            )
        self.config = config
        self.plugin_manager = plugin_manager if plugin_manager is not None else get_plugin_manager()
        self.router = Router(
            config.routing, config.providers, config.templates, origin=config.origin()
        )
        self.hooks = Hooks(self.plugin_manager)
        self.redactor = RequestRedactor(config.secret_values())
        self.notifications = Notifications(config.notifications, self.router.route, self.compose)
        settings = config.executor
        # A lease outlives the longest request, so only a dead sender's expires.
        lease = 2 * (settings.timeout + settings.connect_timeout)
        self._limit_store = limit_store
        self.throttles = Throttles(self._open_limit_store, lease=lease)
        self.jobs = Jobs(self)
        self._transports = dict(transports or {})
        if console_stream is not None:
            from norq.providers.console import TRANSPORT, ConsoleTransport

            self._transports[TRANSPORT] = ConsoleTransport(stream=console_stream)
        if executor is not None and executor.redact is str:
            executor.redact = self.redactor.text
        self._executor = executor
        self._building = threading.Lock()
        if observer is None and config.telemetry.opentelemetry:
            observer = _opentelemetry(config)
        self.observer = observer

    @property
    def executor(self) -> Executor:
        """The executor that sends, built on first use from the ``executor:`` settings.

        A dry run or a config check never builds it (nor imports its transports).
        """
        executor = self._executor
        if executor is None:
            with self._building:  # sixteen threads' first sends build one executor
                executor = self._executor
                if executor is None:
                    executor = self._executor = self._build_executor()
        return executor

    def _build_executor(self) -> Executor:
        from norq.executor import Executor

        settings = self.config.executor
        return Executor(
            timeout=settings.timeout,
            connect_timeout=settings.connect_timeout,
            max_connections=settings.max_connections,
            async_transport=settings.async_transport,
            max_response_bytes=settings.max_response_bytes,
            factories=transport_registry(self.plugin_manager),
            transports=self._transports,
            redact=self.redactor.text,
        )

    def _open_limit_store(self) -> LimitStore:
        if self._limit_store is not None:
            return self._limit_store
        celery = self.config.celery
        if celery is not None:
            # Redis is configured: every process sending for this config shares one limit.
            from norq.jobs.redis_limits import RedisLimitStore

            return RedisLimitStore.from_url(
                celery.store_url, without_store=celery.limits_without_store
            )
        from norq.throttle import LocalLimitStore

        return LocalLimitStore()

    def compose(self, notification: Notification) -> Composed:
        """Route and build a single notification for each provider; raise on any bad input."""
        chain = self.router.plan(notification)
        return self.router.compose(notification, chain)

    def deliver(self, composed: Composed, index: int | None = None) -> Receipt:
        """Send ``composed`` along its providers: the receipt, delivered or not."""
        return deliver(
            composed,
            self.executor,
            self.hooks,
            self.throttles,
            index,
            observer=self.observer,
            fake=intercept.current,
        )

    async def adeliver(self, composed: Composed, index: int | None = None) -> Receipt:
        """Async :meth:`deliver`."""
        return await adeliver(
            composed,
            self.executor,
            self.hooks,
            self.throttles,
            index,
            observer=self.observer,
            fake=intercept.current,
        )

    def bulk(
        self,
        notification: Notification,
        *,
        ledger: Ledger | None = None,
        policy: ResendPolicy | None = None,
        lookup: Lookup | None = None,
        store_patience: float = DEFAULT_STORE_PATIENCE,
    ) -> BulkSend:
        """The bulk engine for one run of ``notification``, delivering through these parts.

        Problems every recipient shares raise here, before anything is sent.
        """
        chain = self.router.plan(notification)
        return BulkSend(
            notification,
            chain,
            self.router.compose,
            self.hooks.after,
            deliver=self.deliver,
            adeliver=self.adeliver,
            ledger=ledger,
            policy=policy,
            lookup=lookup,
            redact=self.redactor.text,
            store_patience=store_patience,
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()
        self._close_stores()

    async def aclose(self) -> None:
        if self._executor is not None:
            await self._executor.aclose()
        self._close_stores()

    def _close_stores(self) -> None:
        self.throttles.close()
        self.jobs.close()


class Jobs:
    """The config's background jobs: bulk sends handed to Celery workers, and their records.

    The connections to the broker and the store are made on first use, and
    need the ``celery:`` section and ``pip install 'norq[celery]'``.
    """

    def __init__(self, wiring: Wiring) -> None:
        self._wiring = wiring
        self._dispatcher: Dispatcher | None = None

    def enqueue_many(self, shared: Notification, recipients: Iterable[RecipientLike]) -> str:
        """Check ``shared``, then hand its recipients to the workers; returns the job id.

        Problems common to all recipients raise here, before anything is
        enqueued; each recipient's own problems become failed receipts.
        Workers send with the same providers, limits and executor settings.
        """
        self.check(shared)
        return self._dispatch().enqueue_many(shared, recipients)

    def check(self, shared: Notification) -> None:
        """Raise what :meth:`enqueue_many` would raise before enqueueing ``shared``."""
        self._wiring.router.plan(shared)
        self._dispatch()

    @property
    def store(self) -> JobStore:
        """Where the jobs' progress and receipts are kept."""
        return self._dispatch().jobs

    def _dispatch(self) -> Dispatcher:
        if self._dispatcher is None:
            settings = self._wiring.config.celery
            if settings is None:
                raise MessageError(
                    f"background jobs need a celery: section in the config, with at least "
                    f"broker_url: redis://HOST:6379/0 (see docs/scale.md); Norq read "
                    f"{self._wiring.config.read_from()}"
                )
            try:
                from norq.jobs.dispatch import Dispatcher
            except ImportError as exc:
                raise MessageError(
                    f"background jobs need the celery extra ({exc.name} is missing): "
                    "pip install 'norq[celery]'"
                ) from None
            self._dispatcher = Dispatcher(settings)
        return self._dispatcher

    def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.close()
            self._dispatcher = None


def _opentelemetry(config: NorqConfig) -> Observer:
    try:
        from norq.contrib.opentelemetry import OpenTelemetryObserver
    except ImportError as exc:
        raise ConfigError(
            f"{config.source}: telemetry.opentelemetry: true needs the otel extra "
            f"({exc.name} is missing): pip install 'norq[otel]'"
        ) from None
    return OpenTelemetryObserver.from_settings(config.telemetry)
