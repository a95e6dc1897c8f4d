"""The bulk engine: one notification to many recipients, one receipt each, resumable.

One engine serves every bulk send: ``notify_many`` / ``anotify_many``, ``norq
send --csv`` and a Celery worker's chunk. :class:`BulkSend` streams the
recipients (bounded memory), sends with bounded concurrency
(:meth:`BulkSend.arun`) or one after the other (:meth:`BulkSend.run`), and,
given a :class:`~norq.ledger.Ledger`, claims rows before their requests go out
and records the receipts after, in batches. A row whose earlier send went
unanswered is settled by asking the provider (``lookup``) before anything is
sent again.

Every recipient ends in a :class:`RowResult`: a receipt (delivered, failed,
refused before sending, found at the provider, interrupted) or a reason it was
not sent now (the ledger's :class:`~norq.ledger.Claim`). One recipient's
problem, whatever it is, is that recipient's failed receipt, never the run's.
:class:`BulkTally` counts every row, so a run's numbers add up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from norq.error_codes import ErrorCode
from norq.errors import (
    MessageError,
    NorqError,
    QueryError,
    StoreUnavailable,
    UnsupportedOperation,
)
from norq.ledger import (
    Claim,
    EntryState,
    Lease,
    Ledger,
    LedgerError,
    LedgerRow,
    ResendPolicy,
    RunInfo,
    content_fingerprint,
)
from norq.notification import Notification
from norq.receipt import Receipt
from norq.retry import Disposition

if TYPE_CHECKING:
    import asyncio

    from norq.provider import Provider
    from norq.router import Composed

logger = logging.getLogger("norq.bulk")

T = TypeVar("T")
W = TypeVar("W")

#: Seconds a run waits for an unavailable ledger store before it gives up.
DEFAULT_STORE_PATIENCE = 300.0
#: Rows claimed together by the one-at-a-time driver: a short read-ahead, one transaction.
SYNC_BATCH = 16
#: Claims and records of the concurrent driver go in batches of up to this many rows.
MAX_BATCH = 256


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of a bulk send, with its own template data and options."""

    to: str
    data: Mapping[str, Any] | None = None
    fields: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """A recipient already known to be unsendable (a job's row its producer could not read)."""

    to: str
    code: str
    why: str


RecipientLike = str | Recipient | Mapping[str, Any]

Compose = Callable[[Notification, "tuple[Provider, ...]"], "Composed"]
Deliver = Callable[["Composed", "int | None"], Receipt]
AsyncDeliver = Callable[["Composed", "int | None"], Awaitable[Receipt]]
#: Asks a provider (by instance name) for a message like ``notification`` created since a
#: time: its id, or ``None``. Raises UnsupportedOperation when it cannot list messages.
Lookup = Callable[[Notification, str, dt.datetime], "str | None"]


@dataclass(frozen=True, slots=True)
class RowResult:
    """What became of one row: a ``receipt``, or none and the ``claim`` that says why not.

    ``index`` is the row's position in the input (from 0), as ``receipt.index``.
    """

    index: int
    to: str
    data: Mapping[str, Any]
    receipt: Receipt | None
    claim: Claim | None = None


@dataclass
class BulkTally:
    """Counts of a bulk run; every row read lands in exactly one of the first seven.

    ``delivered`` and ``failed`` are rows sent now (or refused before sending);
    ``found_at_provider`` rows an earlier unanswered send turned out to have
    reached; the ``skipped_*`` rows were not sent now: accepted earlier, failed
    for good earlier (``--retry-final`` sends them), unanswered earlier with
    nobody able to tell (``--resend-unconfirmed`` sends them), or held by
    another live sender. ``failed_final`` counts the failed rows that failed for
    good (see :attr:`Receipt.final`). ``missing_at_provider`` (rows an earlier unanswered
    send had not reached, so they were sent now) and ``may_duplicate`` (rows
    sent again unasked) say more about some of the delivered and failed rows.
    """

    delivered: int = 0
    failed: int = 0
    failed_final: int = 0
    found_at_provider: int = 0
    skipped_accepted: int = 0
    skipped_final: int = 0
    skipped_unconfirmed: int = 0
    held_elsewhere: int = 0
    missing_at_provider: int = 0
    may_duplicate: int = 0
    taken_over: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        """Rows sent (or refused) in this run: delivered plus failed."""
        return self.delivered + self.failed

    @property
    def rows(self) -> int:
        """Every row dealt with so far: how far through the input the run is."""
        return (
            self.sent
            + self.found_at_provider
            + self.skipped_accepted
            + self.skipped_final
            + self.skipped_unconfirmed
            + self.held_elsewhere
        )

    def add(self, result: RowResult) -> None:
        receipt, claim = result.receipt, result.claim
        if claim is not None and claim.may_duplicate:
            self.may_duplicate += 1
        if receipt is None:
            self._skip(claim)
            return
        if receipt.ok:
            if receipt.attempts == 0 and receipt.message_id is not None:
                self.found_at_provider += 1
            else:
                self.delivered += 1
            return
        self.failed += 1
        self.failed_final += receipt.final
        code = receipt.error.code if receipt.error else "unknown"
        self.by_code[code] = self.by_code.get(code, 0) + 1
        if code not in self.examples:
            message = receipt.error.message if receipt.error else "failed"
            self.examples[code] = f"row {result.index + 1}: {message}"

    def _skip(self, claim: Claim | None) -> None:
        previous = claim.previous if claim is not None else None
        if previous is EntryState.ACCEPTED:
            self.skipped_accepted += 1
        elif claim is not None and claim.final:
            self.skipped_final += 1
        elif previous is EntryState.SENDING:
            self.held_elsewhere += 1
        else:
            self.skipped_unconfirmed += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "delivered": self.delivered,
            "failed": self.failed,
            "failed_final": self.failed_final,
            "failed_by_code": dict(sorted(self.by_code.items())),
            "found_at_provider": self.found_at_provider,
            "skipped_accepted": self.skipped_accepted,
            "skipped_final": self.skipped_final,
            "skipped_unconfirmed": self.skipped_unconfirmed,
            "held_elsewhere": self.held_elsewhere,
            "missing_at_provider": self.missing_at_provider,
            "may_duplicate": self.may_duplicate,
        }


@dataclass(slots=True)
class _Work:
    """A row to send now: its claim (``None`` without a ledger) and the lease it was
    claimed under."""

    index: int
    item: Any
    claim: Claim | None = None
    generation: int | None = 0


class BulkSend:
    """One bulk run: the shared notification, its providers, and how rows are kept.

    ``compose`` builds one recipient's message (a :class:`~norq.router.Router`'s);
    ``deliver`` / ``adeliver`` send it along the chain (:mod:`norq.delivery`);
    ``report`` sees receipts made here rather than by delivery (the
    ``after_send`` hook). With a ``ledger``, rows are claimed before they are
    sent, under ``policy``; ``lookup`` asks providers about unanswered sends.
    While the ledger's store is unavailable (:class:`~norq.errors.StoreUnavailable`),
    the run waits for it, up to ``store_patience`` seconds for each call.
    """

    def __init__(
        self,
        shared: Notification,
        chain: tuple[Provider, ...],
        compose: Compose,
        report: Callable[[Receipt], None],
        *,
        deliver: Deliver,
        adeliver: AsyncDeliver,
        ledger: Ledger | None = None,
        policy: ResendPolicy | None = None,
        lookup: Lookup | None = None,
        redact: Callable[[str], str] = str,
        store_patience: float = DEFAULT_STORE_PATIENCE,
    ) -> None:
        self.shared = shared
        self.chain = chain
        self.tally = BulkTally()
        self._compose = compose
        self._report = report
        self._deliver = deliver
        self._adeliver = adeliver
        self._ledger = None if ledger is None else _Patient(ledger, store_patience, redact)
        self._patience = store_patience
        self._policy = policy or ResendPolicy()
        self._lookup = lookup
        self._redact = redact
        self._run: RunInfo | None = None
        self._cannot_ask: set[str] = set()
        self._stopping = False
        self._aborting = False
        self._in_flight: dict[int, tuple[_Work, asyncio.Task[Any]]] = {}

    # -- controls (the CLI's signals) ------------------------------------------------

    def stop(self) -> None:
        """Read no more rows and start no more requests; those in flight finish."""
        self._stopping = True

    @property
    def aborted(self) -> bool:
        return self._aborting

    def abort(self) -> None:
        """Stop, and end the requests still in flight now: each becomes an
        ``interrupted`` receipt (unconfirmed: it may have arrived)."""
        self._stopping = self._aborting = True
        for _, task in self._in_flight.values():
            task.cancel()

    # -- the one-at-a-time driver ------------------------------------------------------

    def run(
        self, items: Iterable[tuple[int, RecipientLike | Refused]]
    ) -> Generator[RowResult, None, None]:
        """Each row in turn; results in input order."""
        ledger = self._ledger
        if ledger is None:
            for index, item in items:
                yield self._counted(self._send_sync(_Work(index, item)))
            return
        self._open(ledger)
        for batch in _batched(items, SYNC_BATCH):
            works, settled = self._claim(ledger, batch)
            by_index = {result.index: result for result in settled}
            pending = list(works)
            current: _Work | None = None
            try:
                for index, _ in batch:
                    if index in by_index:
                        yield self._counted(by_index[index])
                        continue
                    if not pending or pending[0].index != index:
                        continue
                    current = pending.pop(0)
                    result = self._send_sync(current)
                    current = None
                    for kept in self._keep(ledger, [result]):
                        yield self._counted(kept)
            except BaseException:
                # Stopped in the middle of a row (Ctrl-C, an error): its request may be out.
                if current is not None:
                    self._keep(ledger, [self._interrupted(current)])
                raise
            finally:
                if pending:  # stopped before these rows: none of them went out
                    ledger.release([work.index + 1 for work in pending])

    # -- the concurrent driver ---------------------------------------------------------

    async def arun(
        self,
        items: Iterable[tuple[int, RecipientLike | Refused]]
        | AsyncIterable[tuple[int, RecipientLike | Refused]],
        workers: int,
    ) -> AsyncGenerator[RowResult, None]:
        """Up to ``workers`` rows in flight; results in completion order.

        If the input raises, the rows already in flight still finish and their
        results come first; then the input's exception is raised.
        """
        source = _InputSource(items, lambda: self._stopping)
        ledger = self._ledger
        if ledger is None:

            async def produce(emit: Callable[[RowResult], Awaitable[None]]) -> None:
                async def next_work() -> _Work | None:
                    entry = await source.next()
                    return None if entry is None else _Work(*entry)

                async def finish(result: RowResult) -> None:
                    await emit(self._counted(result))

                await _together(workers, lambda: self._sender(next_work, finish, _drop))

        else:

            async def produce(emit: Callable[[RowResult], Awaitable[None]]) -> None:
                await _KeptRun(self, ledger, source, emit, workers).run()

        async with contextlib.aclosing(stream(produce, buffer=2 * workers)) as results:
            async for result in results:
                yield result
        source.raise_error()

    async def _sender(
        self,
        next_work: Callable[[], Awaitable[_Work | None]],
        finish: Callable[[RowResult], Awaitable[None]],
        give_back: Callable[[_Work], None],
    ) -> None:
        """Send rows one after the other until there are none; once the run stops,
        rows are given back unsent."""
        import asyncio

        task = asyncio.current_task()
        assert task is not None
        in_flight = self._in_flight
        while (work := await next_work()) is not None:
            if self._stopping:
                give_back(work)
                continue
            in_flight[work.index] = (work, task)
            try:
                result = await self._asend(work)
            except asyncio.CancelledError:
                if not self._aborting:
                    raise  # left in flight: the run's cleanup makes it unconfirmed
                task.uncancel()
                result = self._interrupted(work)
            del in_flight[work.index]
            if result is not None:
                await finish(result)

    # -- rows ----------------------------------------------------------------------------

    def _open(self, ledger: Ledger) -> None:
        self._run = ledger.open_run(
            RunInfo(self.shared.channel, content_fingerprint(self.shared), dt.datetime.now(dt.UTC))
        )

    def _claim(
        self, ledger: Ledger, batch: Sequence[tuple[int, RecipientLike | Refused]]
    ) -> tuple[list[_Work], list[RowResult]]:
        """Claim a batch of rows: the rows to send now, and the rows settled without sending.

        A row an earlier send may have reached is asked about at the provider first;
        then it is sent (the provider has none), or has its receipt (it has one).
        """
        items = {index + 1: item for index, item in batch}
        keys = [_ledger_row(index, item) for index, item in batch]
        generation = ledger.lease.generation()
        safe = ResendPolicy(resend_unconfirmed=False, retry_final=self._policy.retry_final)
        claims = ledger.claim(keys, safe)
        settled: list[RowResult] = []
        doubtful: list[LedgerRow] = []
        granted = [claim for claim in claims if claim.granted]
        for claim, key in zip(claims, keys, strict=True):
            if claim.granted:
                continue
            if claim.doubtful:
                doubtful.append(key)
            else:
                settled.append(RowResult(key.row - 1, key.to, key.data, None, claim))
        if doubtful:
            missing, unknown = self._ask_providers(ledger, doubtful, settled)
            if missing:
                granted += [claim for claim in ledger.claim(missing, safe) if claim.granted]
            if unknown and self._policy.resend_unconfirmed:
                granted += [claim for claim in ledger.claim(unknown, self._policy) if claim.granted]
            elif unknown:
                skipped = [
                    RowResult(key.row - 1, key.to, key.data, None, _unconfirmed(key.row))
                    for key in unknown
                ]
                ledger.leave_unconfirmed(
                    [(result.index + 1, self._left_unconfirmed(result)) for result in skipped]
                )
                settled += skipped
        works = [
            _Work(claim.row - 1, items[claim.row], claim, generation)
            for claim in sorted(granted, key=lambda claim: claim.row)
        ]
        return works, settled

    def _ask_providers(
        self, ledger: Ledger, rows: list[LedgerRow], settled: list[RowResult]
    ) -> tuple[list[LedgerRow], list[LedgerRow]]:
        """Ask about rows whose earlier send went unanswered; records the answers.

        Returns the rows no provider has (safe to send) and those nobody could tell.
        Rows a provider has are added to ``settled`` with a receipt naming that provider.
        """
        missing: list[LedgerRow] = []
        unknown: list[LedgerRow] = []
        answers: list[tuple[int, str | None, str | None]] = []
        for key in rows:
            entry = ledger.entry(key.row)
            since = (entry.claimed_at if entry else None) or self._started()
            first = entry.provider if entry is not None else None
            answer = self._ask(key, first, since)
            if answer is None:
                unknown.append(key)
                continue
            provider, message_id = answer
            if message_id is None:
                answers.append((key.row, None, None))
                missing.append(key)
                self.tally.missing_at_provider += 1
            else:
                answers.append((key.row, provider, message_id))
                receipt = Receipt.found(
                    self.shared.channel, provider, key.to, message_id, index=key.row - 1
                )
                settled.append(RowResult(key.row - 1, key.to, key.data, receipt))
        if answers:
            ledger.resolve(answers)
        return missing, unknown

    def _ask(
        self, key: LedgerRow, first: str | None, since: dt.datetime
    ) -> tuple[str, str | None] | None:
        """``(provider, message id or None)`` once every provider that may have it was
        asked; ``None`` if one of them could not be asked."""
        lookup = self._lookup
        if lookup is None:
            return None
        notification = self.shared.for_recipient(key.to, key.data)
        names = [provider.instance for provider in self.chain]
        if first in names:
            names.remove(first)
            names.insert(0, first)
        for name in names:
            if name in self._cannot_ask:
                return None
            try:
                message_id = lookup(notification, name, since)
            except UnsupportedOperation:
                self._cannot_ask.add(name)
                return None
            except (MessageError, QueryError) as exc:
                logger.warning(
                    "%s", self._redact(f"could not check row {key.row} ({key.to}) at {name}: {exc}")
                )
                return None
            if message_id is not None:
                return name, message_id
        return names[0], None

    def _started(self) -> dt.datetime:
        return self._run.started_at if self._run is not None else dt.datetime.now(dt.UTC)

    def _keep(self, ledger: Ledger | None, results: Sequence[RowResult]) -> list[RowResult]:
        """Record the receipts in the ledger; the results whose row this sender still held."""
        if ledger is None:
            return list(results)
        lost = set(
            ledger.record(
                [(result.index + 1, result.receipt) for result in results if result.receipt]
            )
        )
        if not lost:
            return list(results)
        self.tally.taken_over += len(lost)
        logger.warning(
            "%d rows were taken over by another sender while this one held them past its "
            "lease; their receipts are the other sender's",
            len(lost),
        )
        return [result for result in results if result.index + 1 not in lost]

    def _counted(self, result: RowResult) -> RowResult:
        self.tally.add(result)
        return result

    def _address(self, work: _Work) -> Composed | RowResult:
        """The row's message for each provider, or its result if it cannot be built (any error)."""
        to: Any = work.item
        data: Mapping[str, Any] = {}
        try:
            if isinstance(work.item, Refused):
                refused = work.item
                raise MessageError(refused.why, code=refused.code)
            recipient = as_recipient(work.item)
            to, data = recipient.to, recipient.data or {}
            notification = self.shared.for_recipient(to, recipient.data, recipient.fields)
            return self._compose(notification, self.chain)
        except Exception as exc:
            return self._refused(work, to, data, exc)

    def _refused(self, work: _Work, to: Any, data: Mapping[str, Any], exc: Exception) -> RowResult:
        if isinstance(work.item, Refused):
            to = work.item.to
        shown = to if isinstance(to, str) else repr(to)
        code, why, disposition = _failure(exc, self._redact)
        receipt = Receipt.refused(
            self.shared.channel,
            self.chain[0].instance,
            shown,
            code,
            why,
            disposition=disposition,
            index=work.index,
        )
        self._report(receipt)
        return RowResult(work.index, shown, data, receipt, work.claim)

    def _send_sync(self, work: _Work) -> RowResult:
        addressed = self._address(work)
        if isinstance(addressed, RowResult):
            return addressed
        try:
            receipt = self._deliver(addressed, work.index)
        except Exception as exc:
            return self._refused(work, addressed.to, _data_of(work.item), exc)
        return RowResult(work.index, addressed.to, _data_of(work.item), receipt, work.claim)

    async def _asend(self, work: _Work) -> RowResult | None:
        """Send one row; ``None`` if it turned out to be another sender's."""
        addressed = self._address(work)
        if isinstance(addressed, RowResult):
            return addressed
        if work.claim is not None and not await self._still_ours(work):
            return None
        try:
            receipt = await self._adeliver(addressed, work.index)
        except Exception as exc:
            return self._refused(work, addressed.to, _data_of(work.item), exc)
        return RowResult(work.index, addressed.to, _data_of(work.item), receipt, work.claim)

    async def _still_ours(self, work: _Work) -> bool:
        """The fence before a row's request: is its claim's lease still current?

        While the lease is unknown (the heartbeat is late) nothing is sent; after it
        changed (this sender stalled past it) the ledger says whether the row is
        still this sender's.
        """
        import asyncio

        ledger = self._ledger
        assert ledger is not None
        waited = 0.0
        while (current := ledger.lease.generation()) is None:
            if waited > self._patience:
                raise StoreUnavailable(
                    f"this sender's heartbeat could not be refreshed for {waited:.0f} s, so "
                    "it cannot tell whether it still holds its rows"
                )
            await asyncio.sleep(0.05)
            waited += 0.05
        if current == work.generation:
            return True
        held = await asyncio.to_thread(ledger.still_held, [work.index + 1])
        if work.index + 1 not in held:
            self.tally.taken_over += 1
            return False
        work.generation = current
        return True

    def _interrupted(self, work: _Work) -> RowResult:
        item = work.item
        to = item.to if isinstance(item, Recipient | Refused) else _ledger_row(0, item).to
        receipt = Receipt.interrupted(
            self.shared.channel,
            self.chain[0].instance,
            to,
            "the run stopped while this request was in flight; the provider may or may not "
            "have accepted it",
            attempts=1,
            index=work.index,
        )
        return RowResult(work.index, to, _data_of(item), receipt, work.claim)

    def _left_unconfirmed(self, result: RowResult) -> Receipt:
        return Receipt.interrupted(
            self.shared.channel,
            self.chain[0].instance,
            result.to,
            "unconfirmed: an earlier send got no answer and the provider could not be asked; "
            "not sent again (allow it with resend_unconfirmed, which may duplicate it)",
            attempts=0,
            index=result.index,
        )


class _Patient:
    """A ledger whose calls wait for its store: a call that finds it unavailable is tried
    again, backing off, until it works or ``patience`` seconds have passed. A row is
    never lost to an outage that ends in time."""

    def __init__(self, ledger: Ledger, patience: float, redact: Callable[[str], str]) -> None:
        self._ledger = ledger
        self._patience = patience
        self._redact = redact

    @property
    def lease(self) -> Lease:
        return self._ledger.lease

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._ledger, name)
        if not callable(method):
            return method

        def patiently(*args: Any) -> Any:
            deadline = time.monotonic() + self._patience
            delay = 0.1
            waited = False
            while True:
                try:
                    result = method(*args)
                except StoreUnavailable as exc:
                    if time.monotonic() + delay > deadline:
                        raise
                    if not waited:
                        logger.warning(
                            "%s; waiting for it, up to %.0f s",
                            self._redact(str(exc)),
                            self._patience,
                        )
                        waited = True
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                if waited:
                    logger.warning("the store is back; the run goes on")
                return result

        return patiently


class _KeptRun:
    """A concurrent run with a ledger: claims in batches, sends, records in batches.

    A row is in one place at a time: ``held`` (claimed, not started), in flight
    (:attr:`BulkSend._in_flight`), ``unrecorded`` (answered, not yet recorded).
    However the run ends (done, stopped, cancelled, failed), the cleanup gives
    the held rows back, records the answered ones, and records the ones in
    flight as interrupted: nothing claimed is left ``sending``.
    """

    def __init__(
        self,
        bulk: BulkSend,
        ledger: Ledger,
        source: _InputSource[tuple[int, Any]],
        emit: Callable[[RowResult], Awaitable[None]],
        workers: int,
    ) -> None:
        import asyncio

        self._bulk = bulk
        self._ledger = ledger
        self._source = source
        self._emit = emit
        self._workers = workers
        self._batch = min(workers, MAX_BATCH)
        self._claimed: asyncio.Queue[_Work | None] = asyncio.Queue(maxsize=self._batch)
        self._answered: asyncio.Queue[RowResult | None] = asyncio.Queue(maxsize=2 * self._batch)
        self._held: dict[int, _Work] = {}
        self._unrecorded: dict[int, RowResult] = {}
        # The claim and the record running in threads: a cancelled run still waits for them.
        self._claiming: asyncio.Future[tuple[list[_Work], list[RowResult]]] | None = None
        self._recording: tuple[asyncio.Future[list[RowResult]], list[RowResult]] | None = None

    async def run(self) -> None:
        import asyncio

        await asyncio.to_thread(self._bulk._open, self._ledger)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._feed())
                group.create_task(self._send_all())
                group.create_task(self._record())
        finally:
            await self._clean_up()

    async def _feed(self) -> None:
        bulk = self._bulk
        while rows := await self._source.batch(self._batch):
            self._claiming = _in_a_thread(bulk._claim, self._ledger, rows)
            try:
                works, settled = await _shielded(self._claiming)
            except LedgerError as exc:
                # A changed input: stop reading, as for a bad row; the rest finish.
                self._source.fail(exc)
                break
            self._claiming = None
            self._held.update((work.index, work) for work in works)
            for result in settled:
                await self._emit(bulk._counted(result))
            for work in works:
                await self._claimed.put(work)
        await self._claimed.put(None)

    async def _next_work(self) -> _Work | None:
        work = await self._claimed.get()
        if work is None:
            self._claimed.put_nowait(None)  # the end, for the next sender too
            return None
        del self._held[work.index]
        return work

    async def _answer(self, result: RowResult) -> None:
        self._unrecorded[result.index] = result
        await self._answered.put(result)

    def _give_back(self, work: _Work) -> None:
        self._held[work.index] = work

    async def _send_all(self) -> None:
        bulk = self._bulk
        await _together(
            self._workers, lambda: bulk._sender(self._next_work, self._answer, self._give_back)
        )
        await self._answered.put(None)

    async def _record(self) -> None:
        answered, bulk = self._answered, self._bulk
        while (first := await answered.get()) is not None:
            results = [first]
            while len(results) < self._batch and not answered.empty():
                more = answered.get_nowait()
                if more is None:
                    answered.put_nowait(None)
                    break
                results.append(more)
            recording = _in_a_thread(bulk._keep, self._ledger, results)
            self._recording = (recording, results)
            kept = await _shielded(recording)
            self._recording = None
            for result in results:
                del self._unrecorded[result.index]
            for result in kept:
                await self._emit(bulk._counted(result))

    async def _clean_up(self) -> None:
        claiming, recording = self._claiming, self._recording
        if claiming is not None:
            with contextlib.suppress(Exception):
                works, _ = await claiming
                self._held.update((work.index, work) for work in works)
        if recording is not None:
            with contextlib.suppress(Exception):
                await recording[0]
                for result in recording[1]:
                    self._unrecorded.pop(result.index, None)
        if self._held:
            self._ledger.release([index + 1 for index in self._held])
        bulk = self._bulk
        cut = [bulk._interrupted(work) for work, _ in bulk._in_flight.values()]
        if self._unrecorded or cut:
            bulk._keep(self._ledger, [*self._unrecorded.values(), *cut])


def _in_a_thread(function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    import asyncio

    return asyncio.ensure_future(asyncio.to_thread(function, *args))


async def _shielded(future: asyncio.Future[T]) -> T:
    """Wait for work running in a thread; cancelling the waiter leaves it running, to be
    waited for again."""
    import asyncio

    return await asyncio.shield(future)


def _drop(work: _Work) -> None:
    pass


def _unconfirmed(row: int) -> Claim:
    return Claim(row, False, EntryState.UNCONFIRMED, doubtful=True)


def _failure(exc: Exception, redact: Callable[[str], str]) -> tuple[str, str, Disposition]:
    """The code, message and disposition of a row's receipt for an error raised while
    building or sending it: final for the message's own problem (the same row would
    fail again), ``retry`` for Norq's (a store out of reach)."""
    if isinstance(exc, MessageError):
        return exc.code, redact(str(exc)), Disposition.FINAL
    if isinstance(exc, NorqError):
        return ErrorCode.PROVIDER_UNAVAILABLE, redact(str(exc)), Disposition.RETRY
    logger.error("building or sending one row failed", exc_info=exc)
    why = f"could not build or send this message: {type(exc).__name__}: {exc}"
    return ErrorCode.INVALID_MESSAGE, redact(why), Disposition.FINAL


def _data_of(item: Any) -> Mapping[str, Any]:
    return _ledger_row(0, item).data


def _ledger_row(index: int, item: Any) -> LedgerRow:
    """A row's key in the ledger; never raises (a malformed recipient gets its failed
    receipt when it is addressed)."""
    row = index + 1
    if isinstance(item, str):
        return LedgerRow(row, item)
    if isinstance(item, Recipient):
        return LedgerRow(row, item.to, dict(item.data or {}))
    if isinstance(item, Refused):
        return LedgerRow(row, item.to)
    if isinstance(item, Mapping) and "to" in item:
        rest = {key: value for key, value in item.items() if key != "to"}
        return LedgerRow(row, str(item["to"]), rest)
    return LedgerRow(row, repr(item))


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


# -- concurrency, written once -------------------------------------------------------


async def _together(count: int, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``count`` copies of a worker coroutine until all are done."""
    import asyncio

    async with asyncio.TaskGroup() as group:
        for _ in range(count):
            group.create_task(make())


async def bounded(
    next_work: Callable[[], Awaitable[W | None]],
    handle: Callable[[W], Awaitable[None]],
    workers: int,
) -> None:
    """Run ``handle`` on each piece of work ``next_work`` gives, ``workers`` at a time."""

    async def worker() -> None:
        while (work := await next_work()) is not None:
            await handle(work)

    await _together(workers, worker)


async def stream(
    produce: Callable[[Callable[[T], Awaitable[None]]], Awaitable[None]], buffer: int
) -> AsyncGenerator[T, None]:
    """Run ``produce(emit)`` as a task and yield what it emits.

    The buffer is bounded, so a slow consumer slows the producer instead of
    piling up results. If the producer raises, everything it emitted first is
    yielded, then the error is raised (unwrapped from its task groups). If the
    consumer stops early, the producer is cancelled.
    """
    import asyncio

    done = object()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=buffer)
    consumer_gone = False

    async def run() -> None:
        try:
            await produce(queue.put)
        finally:
            if not consumer_gone:
                await queue.put(done)

    runner = asyncio.create_task(run())
    try:
        while (item := await queue.get()) is not done:
            yield item
        try:
            await runner
        except BaseExceptionGroup as group:
            raise _first(group) from None
    finally:
        consumer_gone = True
        if not runner.done():
            runner.cancel()
            try:
                await runner
            except BaseException:
                logger.debug("bulk send stopped early")


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


# -- reading the input ---------------------------------------------------------------


def indexed(
    recipients: Iterable[T] | AsyncIterable[T],
) -> Iterable[tuple[int, T]] | AsyncIterable[tuple[int, T]]:
    """``(position, item)`` pairs, for a sync or an async iterable."""
    if isinstance(recipients, AsyncIterable):
        return _aenumerate(recipients)
    return enumerate(recipients)


async def _aenumerate(items: AsyncIterable[T]) -> AsyncIterator[tuple[int, T]]:
    index = 0
    async for item in items:
        yield index, item
        index += 1


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _InputSource(Generic[T]):
    """The input of a concurrent run, read by many senders: the next item, or ``None``
    when it is exhausted, the run is stopping, or it raised.

    An error from the input ends the reading, not the run: the rows in flight
    finish, and :meth:`raise_error` raises it afterwards.
    """

    def __init__(self, items: Iterable[T] | AsyncIterable[T], stopping: Callable[[], bool]):
        self._stopping = stopping
        self._error: Exception | None = None
        self._ended = False
        self._sync: Iterator[T] | None = None
        self._async: AsyncIterator[T] | None = None
        if isinstance(items, AsyncIterable):
            import asyncio

            self._async = aiter(items)
            self._lock = asyncio.Lock()
        else:
            self._sync = iter(items)

    async def next(self) -> T | None:
        if self._ended or self._stopping():
            return None
        if self._sync is not None:
            # No await between reading and returning: the read is atomic on the loop.
            try:
                return next(self._sync)
            except StopIteration:
                self._ended = True
            except Exception as exc:
                self.fail(exc)
            return None
        assert self._async is not None
        async with self._lock:
            if self._ended:
                return None
            try:
                return await anext(self._async)
            except StopAsyncIteration:
                self._ended = True
            except Exception as exc:
                self.fail(exc)
            return None

    async def batch(self, size: int) -> list[T]:
        """Up to ``size`` items; fewer only at the end of the input."""
        items: list[T] = []
        while len(items) < size and (item := await self.next()) is not None:
            items.append(item)
        return items

    def fail(self, exc: Exception) -> None:
        self._ended = True
        self._error = exc

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error


class BulkReceipts(Iterator[Receipt]):
    """The receipts of a bulk run as they come (rows not sent now have none), and
    ``tally``, which counts every row so far. Closing it stops the run."""

    def __init__(self, results: Generator[RowResult, None, None], tally: BulkTally) -> None:
        self._results = results
        self.tally = tally

    def __iter__(self) -> BulkReceipts:
        return self

    def __next__(self) -> Receipt:
        while True:
            receipt = next(self._results).receipt
            if receipt is not None:
                return receipt

    def close(self) -> None:
        self._results.close()


class AsyncBulkReceipts(AsyncIterator[Receipt]):
    """Async :class:`BulkReceipts`: ``async for``, and ``await receipts.aclose()`` to stop."""

    def __init__(self, results: AsyncGenerator[RowResult, None], tally: BulkTally) -> None:
        self._results = results
        self.tally = tally

    def __aiter__(self) -> AsyncBulkReceipts:
        return self

    async def __anext__(self) -> Receipt:
        while True:
            receipt = (await anext(self._results)).receipt
            if receipt is not None:
                return receipt

    async def aclose(self) -> None:
        await self._results.aclose()
