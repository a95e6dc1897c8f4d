"""Delivering one message along its providers: pure steps, thin sync and async drivers.

:class:`Delivery` decides, outcome by outcome, whether to fail over to the
next provider (the failure's disposition is ``retry`` or ``failover``) or to
stop with a :class:`~norq.receipt.Receipt`. Each provider sends the message
composed for it (:class:`~norq.router.Composed`); one that cannot take this
message is passed over, and the receipt names it in ``skipped``. It performs no I/O, like the
executor's :class:`~norq.executor.Attempts`; :func:`deliver` and
:func:`adeliver` drive it with the executor, hold each request to its
provider's rate limits and call the plugins' hooks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

from norq.error_codes import ErrorCode
from norq.receipt import Receipt, Skipped
from norq.retry import Disposition
from norq.router import Composed, Leg, Skip
from norq.send_result import SendResult
from norq.transports.base import Response

if TYPE_CHECKING:
    from norq.executor import AttemptObserver, Executor, Reader
    from norq.message import Message
    from norq.observe import Observation, Observer
    from norq.provider import Provider
    from norq.receipt import Outcome
    from norq.throttle import Throttles
    from norq.transports.base import Prepared

logger = logging.getLogger("norq")


@dataclass(frozen=True, slots=True)
class Attempt:
    """The next thing to do: send ``request``, prepared by ``provider`` from ``message``."""

    provider: Provider
    request: Prepared
    message: Message


class Answerer(Protocol):
    """What answers each attempt in place of the executor: the application test fake.

    The one installed for the process is :data:`norq.intercept.current`; the
    wiring hands it to :func:`deliver`, which therefore needs no global.
    """

    def answer(self, attempt: Attempt, message: Message, index: int | None) -> Outcome:
        """The outcome of sending ``attempt``; ``index`` is the position in a bulk send."""

    def record(self, message: Message, receipt: Receipt) -> None:
        """The notification's receipt, once its attempts are over."""


class Delivery:
    """Walks one composed notification along its failover chain. Pure."""

    __slots__ = ("attempts", "composed", "current", "index", "position", "skipped")

    def __init__(self, composed: Composed, index: int | None = None) -> None:
        self.composed = composed
        self.index = index
        self.position = -1
        self.attempts = 0
        self.skipped: list[Skipped] = []
        self.current: Leg | None = None

    def first(self) -> Attempt:
        leg = self._next_leg()
        assert leg is not None, "Router.compose guarantees a provider that takes the message"
        return self._attempt(leg)

    def record(self, outcome: Outcome) -> Attempt | Receipt:
        """Take one provider's outcome: the next provider's attempt, or the receipt."""
        self.attempts += outcome.attempts
        error = outcome.error
        current = self.current
        assert current is not None
        if not outcome.ok and error is not None and error.disposition != Disposition.FINAL:
            following = self._next_leg()
            if following is not None:
                logger.warning(
                    "%s failed (%s: %s); failing over to %s",
                    current.provider.instance,
                    error.code,
                    error.message,
                    following.provider.instance,
                )
                return self._attempt(following)
        composed = self.composed
        return Receipt.from_outcome(
            composed.channel,
            current.provider.instance,
            composed.to,
            outcome,
            attempts=self.attempts,
            index=self.index,
            skipped=tuple(self.skipped),
        )

    def _next_leg(self) -> Leg | None:
        """The next provider that takes the message; those that cannot are noted as skipped."""
        steps = self.composed.steps
        while self.position + 1 < len(steps):
            self.position += 1
            step = steps[self.position]
            if not isinstance(step, Skip):
                return step
            self.skipped.append(Skipped(step.provider.instance, str(step.error)))
        return None

    def _attempt(self, leg: Leg) -> Attempt:
        self.current = leg
        return Attempt(leg.provider, leg.provider.prepare_send(leg.message), leg.message)


class Hooks:
    """The ``before_send`` and ``after_send`` hooks; skipped when no plugin has them."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._before_send = pm.hook.before_send
        self._after_send = pm.hook.after_send

    # Calling a hook with no implementations still costs; skip it then. Asked at each
    # call, not once: a plugin may be registered on a Norq that has already sent.

    def before(self, attempt: Attempt, message: Message) -> None:
        if not self._before_send.get_hookimpls():
            return
        try:
            self._before_send(
                request=attempt.request, message=message, provider=attempt.provider.instance
            )
        except Exception:
            # Observability must not stop delivery; the plugin's bug is logged.
            logger.exception("a before_send hook failed; the notification is sent anyway")

    def after(self, receipt: Receipt) -> None:
        if not self._after_send.get_hookimpls():
            return
        try:
            self._after_send(receipt=receipt)
        except Exception:
            logger.exception("an after_send hook failed")


def send_reader(provider: Provider) -> Reader:
    """``provider.read_send``, held to what every send shares: an accepted send has an id.

    Checked here rather than in each reader, so a plugin's own ``read_send``
    cannot report a delivery with nothing to look it up by. A provider whose
    API issues no ids says so (``issues_message_ids = False``).
    """
    read = provider.read_send
    if not provider.issues_message_ids:
        return read

    def read_with_id(request: Any, response: Response) -> SendResult:
        result = read(request, response)
        if result.ok and not result.message_id:
            # Taken, says the provider, but the receipt could never be matched
            # to a status or a webhook; retrying would send it twice.
            return SendResult.failed(
                ErrorCode.BAD_RESPONSE,
                f"HTTP {response.status}: {provider.instance!r} ({provider.name}) took the message "
                "but its answer gave no message id; a provider whose API issues none declares "
                "issues_message_ids = False",
                data=result.data,
            )
        return result

    return read_with_id


def deliver(
    composed: Composed,
    executor: Executor,
    hooks: Hooks,
    throttles: Throttles,
    index: int | None = None,
    *,
    observer: Observer | None = None,
    fake: Answerer | None = None,
) -> Receipt:
    """Send ``composed`` along its providers with failover; the receipt, delivered or not.

    Every request waits for its provider's rate limits (``throttles``).
    ``observer`` is told about the notification and each of its attempts.
    ``fake``, the test fake installed in :mod:`norq.intercept` if any, answers
    each attempt instead of the executor.
    """
    delivery = Delivery(composed, index)
    first = delivery.first()
    message = first.message
    step: Attempt | Receipt = first
    watch = _start(observer, message)
    while isinstance(step, Attempt):
        message = step.message
        hooks.before(step, message)
        provider = step.provider
        if fake is not None:
            outcome = fake.answer(step, message, index)
        else:
            observe = None if watch is None else _attempts(watch, provider, delivery.attempts)
            outcome = executor.send(
                step.request, send_reader(provider), throttles.of(provider), observe
            )
        step = delivery.record(outcome)
    if fake is not None:
        fake.record(message, step)
    if watch is not None:
        _finish(watch, step)
    hooks.after(step)
    return step


async def adeliver(
    composed: Composed,
    executor: Executor,
    hooks: Hooks,
    throttles: Throttles,
    index: int | None = None,
    *,
    observer: Observer | None = None,
    fake: Answerer | None = None,
) -> Receipt:
    """Async :func:`deliver`."""
    delivery = Delivery(composed, index)
    first = delivery.first()
    message = first.message
    step: Attempt | Receipt = first
    watch = _start(observer, message)
    while isinstance(step, Attempt):
        message = step.message
        hooks.before(step, message)
        provider = step.provider
        if fake is not None:
            outcome = fake.answer(step, message, index)
        else:
            observe = None if watch is None else _attempts(watch, provider, delivery.attempts)
            outcome = await executor.asend(
                step.request, send_reader(provider), throttles.of(provider), observe
            )
        step = delivery.record(outcome)
    if fake is not None:
        fake.record(message, step)
    if watch is not None:
        _finish(watch, step)
    hooks.after(step)
    return step


def _start(observer: Observer | None, message: Message) -> Observation | None:
    if observer is None:
        return None
    try:
        return observer.start(message)
    except Exception:
        # Telemetry must not stop delivery; without its observation the send goes on unseen.
        logger.exception("an observer failed to start; the notification is sent unobserved")
        return None


def _attempts(watch: Observation, provider: Provider, previous: int) -> AttemptObserver:
    return lambda record: watch.attempt(provider, previous, record)


def _finish(watch: Observation, receipt: Receipt) -> None:
    try:
        watch.finish(receipt)
    except Exception:
        logger.exception("an observer failed on a receipt")
