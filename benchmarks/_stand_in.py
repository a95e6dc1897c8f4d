"""A stand-in ``twilio`` provider, used only while Norq has no built-in one.

It describes the same request the real provider does (form-encoded POST to
``/2010-04-01/Accounts/{sid}/Messages.json`` with Basic auth, id at ``$.sid``),
so the numbers stay comparable once the real provider is installed.
"""

from __future__ import annotations

import types
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from norq.hookspecs import hookimpl
from norq.message import Message
from norq.provider import Provider
from norq.register import Register
from norq.request import BasicAuth, ErrorFormat, PreparedRequest

_ERRORS = ErrorFormat(code_path="$.code", message_path="$.message", more_info_path="$.more_info")


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    account_sid: str
    api_key_sid: str
    api_key_secret: SecretStr
    sender: str = Field(alias="from")
    base_url: str = "https://api.twilio.com"


class StandInTwilio(Provider):
    name = "twilio"
    channels = frozenset({"sms"})
    Config = _Config

    def __init__(self, config: BaseModel, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        assert isinstance(config, _Config)
        self._url = (
            f"{config.base_url.rstrip('/')}/2010-04-01/Accounts/{config.account_sid}/Messages.json"
        )
        self._auth = BasicAuth(config.api_key_sid, config.api_key_secret.get_secret_value())
        self._sender = config.sender

    def prepare_send(self, message: Message) -> PreparedRequest:
        return PreparedRequest(
            method="POST",
            url=self._url,
            form=(("To", message.to), ("From", self._sender), ("Body", message.body or "")),
            auth=self._auth,
            success_statuses=frozenset({200, 201}),
            message_id_path="$.sid",
            retry=self.retry,
            errors=_ERRORS,
        )


@hookimpl
def register_providers(register: Register) -> None:
    register(StandInTwilio)


plugin = types.SimpleNamespace(register_providers=register_providers)
