"""Where the application test fake takes the place of sending, process-wide.

:func:`norq.testing.fake_notifications` installs a fake here for the length
of a test. While one is installed, every :class:`norq.Norq` in the process
asks it for the outcome of each attempt instead of sending (after routing,
templating and the provider's ``prepare_send``, before any transport), and
hands it the jobs it would enqueue. Nothing here is used in production: the
wiring reads :data:`current` once per delivery, and finds ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from norq.delivery import Answerer

if TYPE_CHECKING:
    from norq.jobs.store import JobStatus
    from norq.notification import Notification
    from norq.receipt import Receipt


class Intercept(Answerer, Protocol):
    """What the fake answers in place of the executor (:class:`~norq.delivery.Answerer`)
    and of the job queue."""

    def enqueue(self, notification: Notification, send: Callable[[], Iterable[Receipt]]) -> str:
        """Take a bulk job instead of the workers and run it with ``send``; returns its job id."""

    def job(self, job_id: str) -> JobStatus:
        """The progress of a job it took."""

    def job_receipts(self, job_id: str) -> Iterator[Receipt]:
        """The receipts of a job it took, in recipient order."""


#: The installed fake, or ``None``: sending is real.
current: Intercept | None = None


def install(fake: Intercept | None) -> Intercept | None:
    """Make ``fake`` answer for every Norq (``None``: send for real); returns the previous one."""
    global current
    previous, current = current, fake
    return previous
