"""A provider's own error codes as Norq's normalised codes and dispositions. Pure.

Most APIs name their failures (Slack's ``channel_not_found``, Vonage's
status ``"9"``, FCM's ``UNREGISTERED``); a provider lists what each means
once, in an :class:`ErrorTable`, and reads answers with it: the default
reader through :meth:`ErrorTable.error_format`, a ``read_send`` of its own
through :meth:`ErrorTable.failed`. A code the table does not know gets
``unknown`` (``rejected``, ``final``: nothing says another try helps).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from norq.error_codes import ErrorCode
from norq.retry import Disposition
from norq.send_result import ErrorFormat, SendResult


class ErrorMeaning(NamedTuple):
    """What one provider code means: a normalised code and what to do next."""

    code: ErrorCode
    disposition: Disposition


class ErrorTable(Mapping[str, ErrorMeaning]):
    """Provider code → :class:`ErrorMeaning`, checked when the table is built.

    ``ErrorTable({"UNREGISTERED": ("recipient_unreachable", "final"), ...})``;
    a mistyped code or disposition is a ``ValueError`` at import, not a
    surprise at the first failure.
    """

    __slots__ = ("_meanings", "unknown")

    def __init__(
        self,
        meanings: Mapping[str, tuple[str, str]],
        *,
        unknown: tuple[str, str] = (ErrorCode.REJECTED, Disposition.FINAL),
    ) -> None:
        self._meanings = {str(key): _meaning(key, *value) for key, value in meanings.items()}
        #: The meaning of a code the table does not list.
        self.unknown = _meaning("unknown", *unknown)

    def __getitem__(self, provider_code: str) -> ErrorMeaning:
        return self._meanings[provider_code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._meanings)

    def __len__(self) -> int:
        return len(self._meanings)

    def __repr__(self) -> str:
        return f"<ErrorTable of {len(self)} codes>"

    def meaning(self, provider_code: str) -> ErrorMeaning:
        """The meaning of ``provider_code``, or :attr:`unknown`."""
        return self._meanings.get(provider_code, self.unknown)

    def failed(self, provider_code: str, message: str, **details: Any) -> SendResult:
        """A failed :class:`norq.SendResult` for ``provider_code``, with its code and disposition.

        ``details`` are the other keywords of :meth:`norq.SendResult.failed`
        (``more_info``, ``retry_after``, ``data``...).
        """
        meaning = self.meaning(provider_code)
        return SendResult.failed(
            meaning.code,
            message,
            provider_code=provider_code,
            disposition=meaning.disposition,
            **details,
        )

    def error_format(self, **fields: Any) -> ErrorFormat:
        """A :class:`norq.ErrorFormat` that reads codes with this table.

        ``fields`` are the format's others (``code_path``, ``message_path``...).
        """
        return ErrorFormat(
            code_map={key: str(m.code) for key, m in self._meanings.items()},
            dispositions={key: str(m.disposition) for key, m in self._meanings.items()},
            **fields,
        )


def _meaning(provider_code: object, code: str, disposition: str) -> ErrorMeaning:
    try:
        normalised = ErrorCode(code)
    except ValueError:
        choices = ", ".join(str(c) for c in ErrorCode)
        raise ValueError(
            f"ErrorTable: {provider_code!r} maps to {code!r}, which is not a norq.ErrorCode "
            f"({choices})"
        ) from None
    try:
        then = Disposition(disposition)
    except ValueError:
        choices = ", ".join(str(d) for d in Disposition)
        raise ValueError(
            f"ErrorTable: {provider_code!r} has disposition {disposition!r}; use one of {choices}"
        ) from None
    return ErrorMeaning(normalised, then)
