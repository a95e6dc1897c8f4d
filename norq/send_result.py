"""Reading a provider's answer: a :class:`Response` in, a :class:`SendResult` out. Pure.

A transport brings back a :class:`Response`; the provider's ``read_send``
decides what it means. The default, :func:`read_declared`, follows what the
:class:`~norq.request.PreparedRequest` declares (success statuses, where the
id is, the :class:`ErrorFormat`), so most providers declare instead of
coding. A provider whose API reports failure inside a 200 body
overrides ``read_send`` and returns :meth:`SendResult.failed`.

What happens after a failure is the result's :class:`Disposition`: the
executor retries ``retry`` results, and the delivery flow fails over on
``retry`` (once retries are spent) and ``failover``, never on ``final``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from norq.error_codes import ErrorCode, code_for_status
from norq.extract import extract, parse_json
from norq.receipt import DeliveryFailure
from norq.retry import Disposition, RetryPolicy, disposition_of
from norq.transports.base import Response

_ERROR_SNIPPET = 200


@dataclass(frozen=True, slots=True)
class ErrorFormat:
    """How to read a provider's failed answers: where the code and message are, what they mean.

    Paths use the ``$.field`` syntax of :mod:`norq.extract`. ``code_map`` maps a
    provider code (as a string) to one of Norq's normalised codes in
    :class:`norq.ErrorCode`; unmapped codes fall back to a code derived from the
    HTTP status. ``dispositions`` overrides, per provider code, what happens
    next (``"retry"``, ``"failover"`` or ``"final"``, see :class:`norq.Disposition`).
    ``reset_header`` names a rate-limit reset header (``X-RateLimit-Reset``)
    read as a wait hint when there is no ``Retry-After``: Unix time, or
    seconds to wait with ``reset_is_delta=True``.
    """

    code_path: str | None = "$.code"
    message_path: str | None = "$.message"
    more_info_path: str | None = None
    code_map: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    dispositions: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    reset_header: str | None = None
    reset_is_delta: bool = False

    def __post_init__(self) -> None:
        # Checked here, when the provider builds its format, not at the first failure.
        try:
            checked = {str(code): Disposition(value) for code, value in self.dispositions.items()}
        except ValueError as exc:
            choices = ", ".join(repr(str(d)) for d in Disposition)
            raise ValueError(f"ErrorFormat.dispositions: {exc}; use one of {choices}") from None
        object.__setattr__(self, "dispositions", MappingProxyType(checked))


DEFAULT_ERROR_FORMAT = ErrorFormat()


class AnswerDeclaration(Protocol):
    """What a request declares about its answer; a :class:`~norq.request.PreparedRequest` is one."""

    @property
    def success_statuses(self) -> frozenset[int]: ...
    @property
    def message_id_path(self) -> str | None: ...
    @property
    def message_id_header(self) -> str | None: ...
    @property
    def errors(self) -> ErrorFormat: ...
    @property
    def retry(self) -> RetryPolicy: ...


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one answer means: accepted with an id, or failed and what to do next.

    Build one with :meth:`accepted` or :meth:`failed`. A failure is one
    :class:`~norq.receipt.DeliveryFailure` (``error``), the value the
    receipt carries in the end; ``code``, ``message``, ``provider_code``,
    ``more_info`` and ``disposition`` read it. ``retry_after`` (seconds) and
    ``retry_at`` (Unix time) are the provider's wait hints for a ``retry``;
    the executor uses them when they are at most the policy's
    ``retry_after_max``. ``data`` is the decoded body, for status queries.
    """

    ok: bool
    message_id: str | None = None
    error: DeliveryFailure | None = None
    retry_after: float | None = None
    retry_at: float | None = None
    data: Any = None

    @classmethod
    def accepted(cls, message_id: str | None, *, data: Any = None) -> SendResult:
        """The provider took the message. ``message_id`` may be ``None`` only for queries."""
        return cls(ok=True, message_id=message_id, data=data)

    @classmethod
    def failed(
        cls,
        code: str,
        message: str,
        *,
        provider_code: str | None = None,
        more_info: str | None = None,
        disposition: Disposition | str | None = None,
        retry_after: float | None = None,
        retry_at: float | None = None,
        data: Any = None,
    ) -> SendResult:
        """The provider refused; ``disposition`` defaults to the table's for ``code``."""
        error = DeliveryFailure(
            str(code),
            message,
            provider_code,
            more_info,
            disposition_of(code) if disposition is None else Disposition(disposition),
        )
        return cls(ok=False, error=error, retry_after=retry_after, retry_at=retry_at, data=data)

    @property
    def code(self) -> str | None:
        return None if self.error is None else self.error.code

    @property
    def message(self) -> str | None:
        return None if self.error is None else self.error.message

    @property
    def provider_code(self) -> str | None:
        return None if self.error is None else self.error.provider_code

    @property
    def more_info(self) -> str | None:
        return None if self.error is None else self.error.more_info

    @property
    def disposition(self) -> Disposition:
        """What to do next: ``final`` for an accepted answer, which needs nothing more."""
        return Disposition.FINAL if self.error is None else self.error.disposition


def read_declared(request: AnswerDeclaration, response: Response) -> SendResult:
    """The default ``read_send``: what the request declares about its answer."""
    if response.status in request.success_statuses:
        return _read_success(request, response)
    return _read_failure(request, response)


def _read_success(request: AnswerDeclaration, response: Response) -> SendResult:
    data = None
    message_id = None
    if request.message_id_header is not None:
        message_id = response.header(request.message_id_header)
    content_type = response.header("content-type") or ""
    if response.body and ("json" in content_type or request.message_id_path is not None):
        data = parse_json(response.body)
    if message_id is None and request.message_id_path is not None:
        found = extract(data, request.message_id_path)
        message_id = None if found is None else str(found)
    expects_id = request.message_id_path is not None or request.message_id_header is not None
    if expects_id and not message_id:
        where = request.message_id_header or request.message_id_path
        # Accepted-looking but unreadable: the provider may or may not have
        # taken it, so neither retry nor fail over (a duplicate is worse).
        return SendResult.failed(
            ErrorCode.BAD_RESPONSE,
            f"HTTP {response.status} without the message id at {where}: {_snippet(response)}",
            data=data,
        )
    return SendResult.accepted(message_id, data=data)


def _read_failure(request: AnswerDeclaration, response: Response) -> SendResult:
    formats = request.errors
    data = parse_json(response.body)
    provider_code = message = more_info = None
    if data is not None:
        provider_code = _text_at(data, formats.code_path)
        message = _text_at(data, formats.message_path)
        more_info = _text_at(data, formats.more_info_path)
    if message is None:
        snippet = _snippet(response)
        message = f"HTTP {response.status}" + (f": {snippet}" if snippet else "")
    code = (formats.code_map.get(provider_code) if provider_code else None) or code_for_status(
        response.status
    )
    disposition = formats.dispositions.get(provider_code) if provider_code else None
    if disposition is None:
        if response.status in request.retry.retry_statuses:
            disposition = Disposition.RETRY
        else:
            # The policy did not list this status as retryable: at most fail over.
            disposition = disposition_of(code)
            if disposition is Disposition.RETRY:
                disposition = Disposition.FAILOVER
    retry_after, retry_at = wait_hints(response, formats)
    return SendResult.failed(
        code,
        message,
        provider_code=provider_code,
        more_info=more_info,
        disposition=disposition,
        retry_after=retry_after,
        retry_at=retry_at,
        data=data,
    )


def wait_hints(response: Response, formats: ErrorFormat) -> tuple[float | None, float | None]:
    """``(retry_after, retry_at)`` from ``Retry-After`` or the declared rate-limit reset header.

    ``Retry-After`` is delta seconds or an HTTP date; the reset header
    (``formats.reset_header``) holds Unix time or, with ``reset_is_delta``,
    seconds to wait. Unreadable values are no hint.
    """
    retry_after, retry_at = parse_retry_after(response.header("retry-after"))
    if retry_after is not None or retry_at is not None:
        return retry_after, retry_at
    if formats.reset_header is None:
        return None, None
    seconds = _non_negative(response.header(formats.reset_header))
    if seconds is None:
        return None, None
    return (seconds, None) if formats.reset_is_delta else (None, seconds)


def parse_retry_after(value: str | None) -> tuple[float | None, float | None]:
    """A ``Retry-After`` value as ``(seconds, None)`` or ``(None, unix_time)``."""
    if value is None or not value.strip():
        return None, None
    seconds = _non_negative(value)
    if seconds is not None:
        return seconds, None
    # An HTTP date is rare next to delta seconds; email.utils costs ~7 ms of
    # start-up, so it is imported here.
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None, None
    if when.tzinfo is None:
        return None, None
    return None, when.timestamp()


def _non_negative(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if number != number or number < 0 or number == float("inf"):  # NaN, negative, infinite
        return None
    return number


def _text_at(data: Any, path: str | None) -> str | None:
    if not path:
        return None
    found = extract(data, path)
    return None if found is None else str(found)


def _snippet(response: Response) -> str:
    return response.body[:_ERROR_SNIPPET].decode("utf-8", "replace").strip()
