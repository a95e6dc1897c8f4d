"""The ``console`` provider: prints notifications instead of sending them (development)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from norq.hookspecs import hookimpl
from norq.message import Message
from norq.provider import ANY_CHANNEL, Provider
from norq.register import Register
from norq.request import PreparedRequest
from norq.retry import RetryPolicy


@dataclass(frozen=True)
class ConsoleConfig:
    stream: Literal["stdout", "stderr"] = "stdout"


class ConsoleProvider(Provider):
    """Writes each notification to the terminal; any channel, no account needed."""

    name = "console"
    channels = frozenset({ANY_CHANNEL})
    Config = ConsoleConfig
    description = "Prints notifications to the terminal instead of sending them"
    message_fields = frozenset({"*"})
    default_retry = RetryPolicy(max_retries=0)

    def prepare_send(self, message: Message) -> PreparedRequest:
        assert isinstance(self.config, ConsoleConfig)
        return PreparedRequest(
            method="POST",
            # The executor hands console:// requests to its console transport.
            url=f"console://{self.config.stream}",
            json={
                "channel": message.channel,
                "to": message.to,
                "body": message.body,
                "fields": {key: str(value) for key, value in message.fields.items()},
            },
            message_id_path="$.id",
            retry=self.retry,
        )


@hookimpl
def register_providers(register: Register) -> None:
    register(ConsoleProvider)
