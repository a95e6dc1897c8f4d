"""The ``console`` provider and its transport: print notifications instead of sending them.

Both live here and are registered by this one plugin module: the provider
describes the notification, the ``console`` transport writes it to the
terminal and answers like an API would, so retries, receipts and hooks work
exactly as for a real provider.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import IO, Any, ClassVar, Literal

from pydantic import Field

from norq.formats import E164, EMAIL, AddressFormat
from norq.hookspecs import hookimpl
from norq.message import Message
from norq.provider import ANY_CHANNEL, Provider
from norq.provider_config import ProviderConfig
from norq.register import Register
from norq.request import PreparedRequest
from norq.retry import RetryPolicy
from norq.transports.base import Response, TransportFactory, TransportSettings

TRANSPORT = "console"


class ConsoleConfig(ProviderConfig):
    stream: Literal["stdout", "stderr"] = Field(
        default="stdout", description="Where notifications are printed"
    )


class ConsoleProvider(Provider[ConsoleConfig]):
    """Writes each notification to the terminal; any channel, no account needed."""

    name = "console"
    channels = frozenset({ANY_CHANNEL})
    # What the providers it stands in for check, so a mistake shows up in development.
    recipient_formats: ClassVar[Mapping[str, AddressFormat]] = {"sms": E164, "email": EMAIL}
    description = "Prints notifications to the terminal instead of sending them"
    message_fields = frozenset({"*"})
    default_retry = RetryPolicy(max_retries=0)

    def prepare_send(self, message: Message) -> PreparedRequest:
        return PreparedRequest(
            method="POST",
            url=f"console://{self.config.stream}",
            json={
                "channel": message.channel,
                "to": message.to,
                "body": message.body,
                "fields": {key: str(value) for key, value in message.fields.items()},
            },
            message_id_path="$.id",
            retry=self.retry,
            transport=TRANSPORT,
        )


class ConsoleTransport:
    """Prints console requests to their stream (or to ``stream``, for tests)."""

    def __init__(
        self, settings: TransportSettings | None = None, *, stream: IO[str] | None = None
    ) -> None:
        self._stream = stream

    def send(self, request: PreparedRequest) -> Response:
        import json
        import uuid

        default = sys.stderr if request.url == "console://stderr" else sys.stdout
        stream = self._stream or default
        payload: dict[str, Any] = request.json if isinstance(request.json, dict) else {}
        message_id = f"console-{uuid.uuid4().hex[:16]}"
        lines = [f"[norq console] {payload.get('channel', '?')} -> {payload.get('to', '?')}"]
        extras = payload.get("fields") or {}
        lines.extend(f"  {key}: {value}" for key, value in sorted(extras.items()))
        lines.append(f"  {payload.get('body') or ''}")
        stream.write("\n".join(lines) + "\n")
        stream.flush()
        return Response(
            200, {"content-type": "application/json"}, json.dumps({"id": message_id}).encode()
        )

    async def asend(self, request: PreparedRequest) -> Response:
        return self.send(request)

    def close(self) -> None:
        """Nothing to release: the streams belong to the process."""

    async def aclose(self) -> None:
        """Nothing to release: the streams belong to the process."""


@hookimpl
def register_providers(register: Register) -> None:
    register(ConsoleProvider)


@hookimpl
def register_transports(register: Callable[[str, TransportFactory], None]) -> None:
    register(TRANSPORT, ConsoleTransport)
