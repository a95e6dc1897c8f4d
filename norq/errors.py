"""Every exception Norq raises derives from :class:`NorqError`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from norq.receipt import DeliveryFailure, Receipt


class NorqError(Exception):
    """Base class of every Norq exception."""


class ConfigError(NorqError):
    """The configuration is invalid; raised at load time, before anything is sent.

    ``errors`` holds every problem found as ``(path, reason)`` pairs, so a caller
    (``norq config check``) can list them all instead of only the first;
    ``locations`` maps a path to ``file:line:col`` where the YAML file tells.
    """

    def __init__(
        self,
        message: str,
        errors: list[tuple[str, str]] | None = None,
        locations: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.errors: list[tuple[str, str]] = errors if errors is not None else [("", message)]
        self.locations: dict[str, str] = locations or {}

    @classmethod
    def collect(
        cls, errors: list[tuple[str, str]], locations: dict[str, str] | None = None
    ) -> ConfigError:
        located = locations or {}
        lines = [problem_line(path, reason, located.get(path)) for path, reason in errors]
        return cls("\n".join(lines), errors, located)


def problem_line(path: str, reason: str, location: str | None = None) -> str:
    """``file:line:col: path: reason``, leaving out the parts that are unknown."""
    return ": ".join(part for part in (location, path, reason) if part)


class PluginError(NorqError):
    """A plugin registered something invalid (for example two providers with one name)."""


class MessageError(NorqError):
    """The message cannot be sent as given: unknown channel, bad recipient, empty body...

    Raised before any request goes out. ``code`` is the normalised error code a
    bulk receipt would carry for the same problem.
    """

    def __init__(self, message: str, code: str = "invalid_message") -> None:
        super().__init__(message)
        self.code = code


class TemplateError(MessageError):
    """A template could not be rendered, typically because a variable is missing."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="template_error")


class UnsupportedOperation(NorqError):
    """The provider does not offer this operation (for example status queries)."""


class DeliveryError(NorqError):
    """Delivery to one recipient finally failed; ``receipt`` says how."""

    def __init__(self, receipt: Receipt) -> None:
        error = receipt.error
        detail = f"{error.code}: {error.message}" if error else "failed"
        super().__init__(
            f"{receipt.channel} to {receipt.to} via {receipt.provider} failed after "
            f"{receipt.attempts} attempt(s): {detail}"
        )
        self.receipt = receipt


class StoreUnavailable(NorqError):
    """A store Norq needs cannot be used now: the Redis that holds the jobs, their
    ledgers and the shared rate limits is down, unreachable or full. The message
    names it (its address, never its password) and what went wrong."""


class QueryError(NorqError):
    """A status query or listing failed; ``error`` says how."""

    def __init__(self, message: str, error: DeliveryFailure | None) -> None:
        super().__init__(message)
        self.error = error
