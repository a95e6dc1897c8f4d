"""The application test fake: every notification captured, nothing sent. Public as ``norq.testing``.

While a :class:`NotificationFake` is installed (:func:`fake_notifications`, or
the ``norq_fake`` pytest fixture), every :class:`norq.Norq` in the process
routes, renders and prepares each notification as usual, then asks the fake
for the outcome instead of sending it. Failover, hooks, bulk sends,
multi-channel notifications and ``enqueue`` all run their real course; only
the transports are left out. The fake keeps one :class:`SentNotification`
per notification, delivered or not, and its assertions say what *was* sent
when they fail.
"""

from __future__ import annotations

import contextvars
import itertools
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from norq import intercept
from norq.contact import Contact
from norq.receipt import DeliveryFailure, Outcome, Receipt
from norq.retry import Disposition, disposition_of

if TYPE_CHECKING:
    from norq.delivery import Attempt
    from norq.jobs.store import JobStatus
    from norq.message import Message
    from norq.notification import Notification

#: What ``body=`` and ``subject=`` match: the exact text, or a pattern searched in it.
Text = str | re.Pattern[str]


@dataclass(frozen=True, slots=True)
class SentNotification:
    """One notification as the fake took it: the rendered message and what became of it.

    ``providers`` are the instances tried, in order (more than one after a
    failover); ``index`` is the recipient's position in a bulk send (``None``
    for ``notify``); ``job`` the id ``enqueue`` returned.
    """

    message: Message
    receipt: Receipt
    providers: tuple[str, ...]
    index: int | None = None
    job: str | None = None

    @property
    def ok(self) -> bool:
        return self.receipt.ok

    @property
    def channel(self) -> str:
        return self.message.channel

    @property
    def to(self) -> str:
        return self.message.to

    @property
    def provider(self) -> str:
        """The instance that delivered it, or that failed last."""
        return self.receipt.provider

    @property
    def template(self) -> str | None:
        return self.message.template

    @property
    def data(self) -> Mapping[str, Any]:
        return self.message.data

    @property
    def body(self) -> str | None:
        """The rendered text body."""
        return self.message.body

    @property
    def subject(self) -> str | None:
        subject = self.message.fields.get("subject")
        return subject if isinstance(subject, str) else None

    @property
    def fields(self) -> Mapping[str, Any]:
        """Per-message options and rendered template parts (``subject``, ``html``...)."""
        return self.message.fields

    @property
    def bulk(self) -> bool:
        """Sent by ``notify_many``, ``anotify_many`` or a job, not by ``notify``."""
        return self.index is not None

    def describe(self) -> str:
        """One line for an assertion message."""
        parts = [f"{self.channel} to {self.to} via {' -> '.join(self.providers)}"]
        if not self.ok:
            error = self.receipt.error
            parts.append(f"FAILED {error.code if error else 'unknown'}")
        if self.template is not None:
            parts.append(f"template {self.template!r}")
        if self.data:
            parts.append(f"data {dict(self.data)!r}")
        if self.subject is not None:
            parts.append(f"subject {self.subject!r}")
        if self.body is not None:
            parts.append(f"body {_shorten(self.body)!r}")
        if self.job is not None:
            parts.append(f"job {self.job}")
        elif self.index is not None:
            parts.append(f"bulk #{self.index}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class _Failure:
    """A scripted failure: which attempts it answers, and with what."""

    code: str
    disposition: Disposition
    message: str
    channel: str | None
    provider: str | None
    to: str | None
    times: int | None

    def matches(self, provider: str, message: Message) -> bool:
        return (
            (self.channel is None or self.channel == message.channel)
            and (self.provider is None or self.provider == provider)
            and (self.to is None or self.to == message.to)
        )


@dataclass
class _Job:
    channel: str
    receipts: list[Receipt] = field(default_factory=list)


class NotificationFake:
    """Takes every notification in place of the providers, and checks what was sent.

    Install it with :func:`fake_notifications` or the ``norq_fake`` fixture.
    Each notification is delivered by the first provider of its route unless
    a scripted failure (:meth:`fail`) answers that provider's attempt; then
    the route's failover decides, as in production.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notifications: list[SentNotification] = []
        self._tried: dict[int, list[str]] = {}
        self._failures: list[_Failure] = []
        self._used: dict[int, int] = {}
        self._ids = itertools.count(1)
        self._jobs: dict[str, _Job] = {}
        self._job: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            "norq_fake_job", default=None
        )

    # -- scripting ------------------------------------------------------------

    def fail(
        self,
        code: str = "provider_unavailable",
        *,
        channel: str | None = None,
        provider: str | None = None,
        to: str | None = None,
        disposition: str | None = None,
        message: str | None = None,
        times: int | None = None,
    ) -> None:
        """Make matching attempts fail with ``code`` (a :class:`norq.ErrorCode` value).

        An attempt matches when its channel, provider instance and recipient
        equal those given (any, when not given). ``disposition`` decides what
        happens next: ``retry`` and ``failover`` move on to the route's next
        provider, ``final`` ends the notification; by default it is the
        code's usual disposition (``provider_unavailable``: retry; a
        ``timeout``: final, and the receipt is ``unconfirmed``). ``times``
        limits the failure to the first matching attempts. The first
        matching failure scripted applies.
        """
        chosen = disposition_of(code) if disposition is None else Disposition(disposition)
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        with self._lock:
            self._failures.append(
                _Failure(
                    code=str(code),
                    disposition=chosen,
                    message=message or f"scripted failure: {code}",
                    channel=channel,
                    provider=provider,
                    to=to,
                    times=times,
                )
            )

    # -- what the delivery flow calls (norq.intercept) ------------------------

    def answer(self, attempt: Attempt, message: Message, index: int | None) -> Outcome:
        provider = attempt.provider.instance
        with self._lock:
            self._tried.setdefault(id(message), []).append(provider)
            failure = self._scripted(provider, message)
            if failure is None:
                return Outcome(True, None, f"fake-{next(self._ids)}", 1)
        error = DeliveryFailure(
            code=failure.code, message=failure.message, disposition=failure.disposition
        )
        return Outcome(False, None, None, 1, error)

    def _scripted(self, provider: str, message: Message) -> _Failure | None:
        for number, failure in enumerate(self._failures):
            if not failure.matches(provider, message):
                continue
            used = self._used.get(number, 0)
            if failure.times is not None and used >= failure.times:
                continue
            self._used[number] = used + 1
            return failure
        return None

    def record(self, message: Message, receipt: Receipt) -> None:
        job = self._job.get()
        with self._lock:
            tried = tuple(self._tried.pop(id(message), ()))
            self._notifications.append(
                SentNotification(message, receipt, tried, receipt.index, job)
            )
            if job is not None:
                self._jobs[job].receipts.append(receipt)

    def enqueue(self, notification: Notification, send: Callable[[], Iterable[Receipt]]) -> str:
        """Run the job at once, in this process, as eager Celery would."""
        job_id = f"fake-job-{uuid.uuid4().hex[:12]}"
        with self._lock:
            self._jobs[job_id] = _Job(notification.channel)
        token = self._job.set(job_id)
        try:
            for receipt in send():
                if receipt.attempts == 0:  # refused before sending: no delivery recorded it
                    with self._lock:
                        self._jobs[job_id].receipts.append(receipt)
        finally:
            self._job.reset(token)
        return job_id

    def job(self, job_id: str) -> JobStatus:
        import datetime as dt

        from norq.jobs.store import JobStatus

        found = self._known_job(job_id)
        errors: dict[str, int] = {}
        for receipt in found.receipts:
            if receipt.error is not None:
                errors[receipt.error.code] = errors.get(receipt.error.code, 0) + 1
        return JobStatus(
            job_id=job_id,
            channel=found.channel,
            created_at=dt.datetime.now(dt.UTC),
            total=len(found.receipts),
            done=len(found.receipts),
            ok=sum(receipt.ok for receipt in found.receipts),
            errors=errors,
        )

    def job_receipts(self, job_id: str) -> Iterator[Receipt]:
        receipts = self._known_job(job_id).receipts
        return iter(sorted(receipts, key=lambda receipt: receipt.index or 0))

    def _known_job(self, job_id: str) -> _Job:
        found = self._jobs.get(job_id)
        if found is None:
            known = ", ".join(self._jobs) or "none"
            raise KeyError(f"the fake took no job {job_id!r} (jobs it took: {known})")
        return found

    # -- reading --------------------------------------------------------------

    @property
    def notifications(self) -> list[SentNotification]:
        """Every notification taken, delivered or failed, in the order they ended."""
        with self._lock:
            return list(self._notifications)

    def sent(
        self,
        to: str | Contact | None = None,
        channel: str | None = None,
        **criteria: Any,
    ) -> list[SentNotification]:
        """The delivered notifications matching the criteria of :meth:`assert_sent`."""
        check = _Criteria.build(to, channel, **criteria)
        return [n for n in self.notifications if n.ok and check.mismatches(n) == []]

    def failed(
        self,
        to: str | Contact | None = None,
        channel: str | None = None,
        **criteria: Any,
    ) -> list[SentNotification]:
        """The notifications that failed, matching the criteria of :meth:`assert_sent`."""
        check = _Criteria.build(to, channel, **criteria)
        return [n for n in self.notifications if not n.ok and check.mismatches(n) == []]

    def clear(self) -> None:
        """Forget what was sent (scripted failures stay)."""
        with self._lock:
            self._notifications.clear()

    # -- assertions -----------------------------------------------------------

    def assert_sent(
        self,
        to: str | Contact | None = None,
        channel: str | None = None,
        *,
        template: str | None = None,
        data: Mapping[str, Any] | None = None,
        subject: Text | None = None,
        body: Text | None = None,
        provider: str | None = None,
        bulk: bool | None = None,
        job: str | None = None,
        times: int | None = None,
    ) -> SentNotification:
        """Assert that a delivered notification matches; returns the (last) one that does.

        ``to`` is an address or a :class:`norq.Contact` (its address on the
        notification's channel); ``data`` matches when the notification's
        data has those keys with those values; ``subject`` and ``body`` are
        the rendered text, compared exactly, or searched with a compiled
        ``re`` pattern; ``bulk=True`` asks for a bulk send or a job,
        ``job=`` for one job; ``times`` for exactly that many matches.
        """
        check = _Criteria.build(
            to,
            channel,
            template=template,
            data=data,
            subject=subject,
            body=body,
            provider=provider,
            bulk=bulk,
            job=job,
        )
        matched = [n for n in self.notifications if n.ok and check.mismatches(n) == []]
        if not matched or (times is not None and len(matched) != times):
            expected = "a notification" if times is None else f"{_count(times)}"
            found = "none did" if not matched else f"{len(matched)} did"
            raise AssertionError(
                f"expected {expected} {check.describe()} to be sent; {found}.\n"
                + self._report(check)
            )
        return matched[-1]

    def assert_not_sent(
        self,
        to: str | Contact | None = None,
        channel: str | None = None,
        **criteria: Any,
    ) -> None:
        """Assert that no delivered notification matches (criteria as :meth:`assert_sent`)."""
        check = _Criteria.build(to, channel, **criteria)
        matched = [n for n in self.notifications if n.ok and check.mismatches(n) == []]
        if matched:
            raise AssertionError(
                f"expected no notification {check.describe()} to be sent; "
                f"{len(matched)} {'was' if len(matched) == 1 else 'were'}.\n" + self._report()
            )

    def assert_failed(
        self,
        to: str | Contact | None = None,
        channel: str | None = None,
        *,
        code: str | None = None,
        **criteria: Any,
    ) -> SentNotification:
        """Assert that a notification matching the criteria failed, with ``code`` if given."""
        check = _Criteria.build(to, channel, code=code, **criteria)
        matched = [n for n in self.notifications if not n.ok and check.mismatches(n) == []]
        if not matched:
            raise AssertionError(
                f"expected a notification {check.describe()} to fail; none did.\n"
                + self._report(check)
            )
        return matched[-1]

    def assert_count(self, expected: int, **criteria: Any) -> None:
        """Assert how many notifications were delivered, all or those matching ``criteria``."""
        check = _Criteria.build(criteria.pop("to", None), criteria.pop("channel", None), **criteria)
        matched = [n for n in self.notifications if n.ok and check.mismatches(n) == []]
        if len(matched) != expected:
            which = f" {check.describe()}" if not check.empty else ""
            raise AssertionError(
                f"expected {_count(expected)}{which} to be sent; {len(matched)} "
                f"{'was' if len(matched) == 1 else 'were'}.\n" + self._report()
            )

    def assert_nothing_sent(self) -> None:
        """Assert that no notification was delivered (failed ones are allowed)."""
        delivered = [n for n in self.notifications if n.ok]
        if delivered:
            raise AssertionError(
                f"expected nothing to be sent; {_count(len(delivered))} "
                f"{'was' if len(delivered) == 1 else 'were'}.\n" + self._report()
            )

    def _report(self, check: _Criteria | None = None) -> str:
        """Everything taken; for those on the channel and address asked for, why each missed."""
        taken = self.notifications
        if not taken:
            return "Nothing was sent."
        lines = [f"{_count(len(taken)).capitalize()} taken:"]
        for number, notification in enumerate(taken, start=1):
            lines.append(f"  {number}. {notification.describe()}")
            if check is not None and check.near(notification):
                lines.extend(f"       {why}" for why in check.mismatches(notification))
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Criteria:
    """What an assertion looks for; each mismatch explained in words."""

    to: str | Contact | None = None
    channel: str | None = None
    template: str | None = None
    data: Mapping[str, Any] | None = None
    subject: Text | None = None
    body: Text | None = None
    provider: str | None = None
    bulk: bool | None = None
    job: str | None = None
    code: str | None = None

    @classmethod
    def build(cls, to: str | Contact | None, channel: str | None, **criteria: Any) -> _Criteria:
        unknown = set(criteria) - set(cls.__dataclass_fields__)
        if unknown:
            raise TypeError(
                "unknown criteria "
                + ", ".join(sorted(unknown))
                + "; use to, channel, template, data, subject, body, provider, bulk, job, code"
            )
        return cls(to=to, channel=channel, **criteria)

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__dataclass_fields__)

    def describe(self) -> str:
        parts = []
        if self.to is not None:
            parts.append(f"to {_address(self.to)}")
        if self.channel is not None:
            parts.append(f"on {self.channel}")
        if self.provider is not None:
            parts.append(f"through {self.provider}")
        if self.template is not None:
            parts.append(f"with template {self.template!r}")
        if self.data is not None:
            parts.append(f"with data {dict(self.data)!r}")
        if self.subject is not None:
            parts.append(f"with subject {_text(self.subject)}")
        if self.body is not None:
            parts.append(f"with body {_text(self.body)}")
        if self.bulk is not None:
            parts.append("in a bulk send" if self.bulk else "outside bulk sends")
        if self.job is not None:
            parts.append(f"in job {self.job}")
        if self.code is not None:
            parts.append(f"with code {self.code!r}")
        return " ".join(parts) if parts else "(any)"

    def near(self, notification: SentNotification) -> bool:
        """Whether it went where the assertion looks, so its differences are worth listing."""
        return (self.to is None or _to_matches(self.to, notification)) and (
            self.channel is None or self.channel == notification.channel
        )

    def mismatches(self, notification: SentNotification) -> list[str]:
        """Why ``notification`` does not match, one sentence each; empty when it does."""
        found: list[str] = []
        if self.to is not None and not _to_matches(self.to, notification):
            found.append(f"went to {notification.to}, not {_address(self.to)}")
        if self.channel is not None and notification.channel != self.channel:
            found.append(f"channel is {notification.channel}, not {self.channel}")
        if self.provider is not None and notification.provider != self.provider:
            found.append(f"provider is {notification.provider}, not {self.provider}")
        if self.template is not None and notification.template != self.template:
            found.append(f"template is {notification.template!r}, not {self.template!r}")
        if self.data is not None:
            for key, value in self.data.items():
                if key not in notification.data:
                    found.append(f"data has no {key!r}")
                elif notification.data[key] != value:
                    found.append(f"data[{key!r}] is {notification.data[key]!r}, not {value!r}")
        if self.subject is not None and not _text_matches(self.subject, notification.subject):
            found.append(f"subject is {notification.subject!r}, not {_text(self.subject)}")
        if self.body is not None and not _text_matches(self.body, notification.body):
            shown = None if notification.body is None else _shorten(notification.body)
            found.append(f"body is {shown!r}, not {_text(self.body)}")
        if self.bulk is not None and notification.bulk != self.bulk:
            found.append("was sent by notify()" if self.bulk else "was sent in a bulk send")
        if self.job is not None and notification.job != self.job:
            found.append(f"job is {notification.job}, not {self.job}")
        if self.code is not None:
            error = notification.receipt.error
            code = None if error is None else error.code
            if code != self.code:
                found.append(f"code is {code!r}, not {self.code!r}")
        return found


def _to_matches(to: str | Contact, notification: SentNotification) -> bool:
    if isinstance(to, Contact):
        return to.address(notification.channel) == notification.to
    return to == notification.to


def _address(to: str | Contact) -> str:
    if isinstance(to, Contact):
        return f"Contact({', '.join(f'{c}={a}' for c, a in to.addresses.items())})"
    return to


def _text_matches(expected: Text, actual: str | None) -> bool:
    if actual is None:
        return False
    if isinstance(expected, re.Pattern):
        return expected.search(actual) is not None
    return expected == actual


def _text(expected: Text) -> str:
    return f"matching /{expected.pattern}/" if isinstance(expected, re.Pattern) else repr(expected)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _count(number: int) -> str:
    return f"{number} notification" + ("" if number == 1 else "s")


@contextmanager
def fake_notifications() -> Iterator[NotificationFake]:
    """Install a :class:`NotificationFake` for every Norq in the process, for the block."""
    fake = NotificationFake()
    previous = intercept.install(fake)
    try:
        yield fake
    finally:
        intercept.install(previous)
