"""What came of a send: the :class:`DeliveryFailure` value, one request's :class:`Outcome`
and one notification's :class:`Receipt`, made by its named constructors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from norq.error_codes import UNCONFIRMED_CODES, ErrorCode
from norq.retry import Disposition


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """Why a send failed: Norq's ``code`` plus what the provider itself said.

    ``disposition`` is what the failure meant for delivery: ``retry`` (retried
    here, then failed over), ``failover`` (not retried here) or ``final``
    (the message itself was wrong, or may have arrived: no failover); see
    :class:`~norq.retry.Disposition`.
    """

    code: str
    message: str
    provider_code: str | None = None
    more_info: str | None = None
    disposition: Disposition = Disposition.FINAL

    def __post_init__(self) -> None:
        # A failure read back from a journal or a job store carries the plain word.
        if type(self.disposition) is not Disposition:
            object.__setattr__(self, "disposition", Disposition(self.disposition))

    def redacted(self, redact: Callable[[str], str]) -> DeliveryFailure:
        """This failure with ``redact`` applied to what the provider said about it."""
        return replace(
            self,
            message=redact(self.message),
            provider_code=None if self.provider_code is None else redact(self.provider_code),
            more_info=None if self.more_info is None else redact(self.more_info),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of executing one prepared request, retries included.

    ``data`` is the decoded JSON of the final answer (status queries read it);
    ``error.disposition`` says whether failing over may help.
    """

    ok: bool
    status_code: int | None
    message_id: str | None
    attempts: int
    error: DeliveryFailure | None = None
    data: Any = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A provider of the failover chain passed over because it cannot take this message."""

    provider: str
    reason: str


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one notification to one recipient.

    ``provider`` is the configured instance that produced the outcome (the
    one that delivered, or the last one tried); ``attempts`` counts HTTP
    attempts across retries and failover. ``index`` is the recipient's
    position in a bulk send's input. ``skipped`` names the providers of the
    chain passed over on the way because they cannot take this message (a
    webhook bound to another channel, a body over one provider's limit).
    """

    ok: bool
    channel: str
    provider: str
    to: str
    message_id: str | None = None
    status_code: int | None = None
    attempts: int = 0
    error: DeliveryFailure | None = None
    index: int | None = None
    skipped: tuple[Skipped, ...] = ()

    # -- named constructors: every receipt Norq makes comes from one of these ----------

    @classmethod
    def from_outcome(
        cls,
        channel: str,
        provider: str,
        to: str,
        outcome: Outcome,
        *,
        attempts: int,
        index: int | None = None,
        skipped: tuple[Skipped, ...] = (),
    ) -> Receipt:
        """What the last provider tried answered (``attempts`` counts every provider's;
        ``skipped`` names those passed over because they cannot take the message)."""
        return cls(
            ok=outcome.ok,
            channel=channel,
            provider=provider,
            to=to,
            message_id=outcome.message_id,
            status_code=outcome.status_code,
            attempts=attempts,
            error=outcome.error,
            index=index,
            skipped=skipped,
        )

    @classmethod
    def refused(
        cls,
        channel: str,
        provider: str,
        to: str,
        code: str,
        why: str,
        *,
        disposition: Disposition = Disposition.FINAL,
        index: int | None = None,
    ) -> Receipt:
        """Not sent: the message could not be built or addressed; no request went out.

        ``final`` unless the problem was not the message's (``Disposition.RETRY``).
        """
        failure = DeliveryFailure(code=code, message=why, disposition=disposition)
        return cls(False, channel, provider, to, attempts=0, error=failure, index=index)

    @classmethod
    def found(
        cls, channel: str, provider: str, to: str, message_id: str, *, index: int | None = None
    ) -> Receipt:
        """An unanswered send that the provider turned out to have: accepted after all."""
        return cls(True, channel, provider, to, message_id=message_id, attempts=0, index=index)

    @classmethod
    def interrupted(
        cls,
        channel: str,
        provider: str,
        to: str,
        why: str,
        *,
        attempts: int,
        index: int | None = None,
    ) -> Receipt:
        """A request that went out (or may have) with no answer kept: unconfirmed."""
        failure = DeliveryFailure(ErrorCode.INTERRUPTED, why, disposition=Disposition.FINAL)
        return cls(False, channel, provider, to, attempts=attempts, error=failure, index=index)

    # -- reading --------------------------------------------------------------------

    @property
    def final(self) -> bool:
        """Failed for good: the provider refused this message itself, or it could not be
        built. Sending it again would fail again, so a resume does not (see
        docs/reliability.md)."""
        error = self.error
        return (
            not self.ok
            and error is not None
            and error.disposition is Disposition.FINAL
            and error.code not in UNCONFIRMED_CODES
        )

    @property
    def unconfirmed(self) -> bool:
        """Failed without an answer: the provider may have accepted it, so a re-send may
        duplicate the message (see docs/reliability.md)."""
        return not self.ok and self.error is not None and self.error.code in UNCONFIRMED_CODES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Receipt:
        """A receipt back from :meth:`to_dict` (after a JSON round trip too)."""
        error = data.get("error")
        return cls(
            **{
                **data,
                "error": None if error is None else DeliveryFailure(**error),
                "skipped": tuple(Skipped(**item) for item in data.get("skipped") or ()),
            }
        )
