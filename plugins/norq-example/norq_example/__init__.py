"""norq-example: a third-party Norq plugin that posts notifications as JSON to a URL.

It is installed as its own distribution and found by Norq through the ``norq``
entry-point group, exactly as any plugin on PyPI would be. The provider it
registers, ``json_webhook``, serves the ``chat`` and ``webhook`` channels::

    providers:
      alerts:
        type: json_webhook
        config:
          url: https://hooks.example.com/notify
          token: ${ALERTS_TOKEN}
    routing:
      chat: alerts
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr

import norq

__version__ = "0.1.0"


class JsonWebhookConfig(norq.ProviderConfig):
    """``providers.<name>.config`` for ``json_webhook``; Norq checks it once, at load time."""

    url: Annotated[str, norq.HTTP_URL] = Field(description="Where to POST")
    token: SecretStr | None = Field(default=None, description="Sent as a Bearer token")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers")


class JsonWebhookProvider(norq.Provider[JsonWebhookConfig]):
    """POSTs ``{"channel", "to", "body", ...}`` as JSON; the answer's ``id`` is the message id."""

    name = "json_webhook"
    channels = frozenset({"chat", "webhook"})
    env_prefix = "JSON_WEBHOOK"
    description = "Posts notifications as JSON to an HTTP endpoint"
    message_fields = frozenset({"title", "severity"})

    def __init__(self, config: JsonWebhookConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        headers = dict(config.headers)
        if config.token is not None:
            headers["Authorization"] = f"Bearer {config.token.get_secret_value()}"
        # Built once: prepare_send only adds the message.
        self._url = config.url
        self._headers = tuple(headers.items())

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        payload: dict[str, Any] = {
            "channel": message.channel,
            "to": message.to,
            "body": message.body,
        }
        payload.update(message.fields)
        return norq.PreparedRequest(
            method="POST",
            url=self._url,
            headers=self._headers,
            json=payload,
            message_id_path="$.id",
            retry=self.retry,
            errors=norq.ErrorFormat(code_path="$.error.code", message_path="$.error.message"),
        )


@norq.hookimpl
def register_providers(register: norq.Register) -> None:
    register(JsonWebhookProvider)
