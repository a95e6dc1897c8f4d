"""What happened to one notification: the :class:`Receipt`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from norq.error_codes import UNCONFIRMED_CODES
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


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one notification to one recipient.

    ``provider`` is the configured instance that delivered (or last tried);
    ``attempts`` counts HTTP attempts across retries and failover. ``index`` is
    the recipient's position in a bulk send's input.
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

    @property
    def unconfirmed(self) -> bool:
        """Failed without an answer: the provider may have accepted it, so a re-send may
        duplicate the message (see docs/reliability.md)."""
        return not self.ok and self.error is not None and self.error.code in UNCONFIRMED_CODES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
