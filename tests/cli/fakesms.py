"""A small SMS provider for the CLI tests, talking to :mod:`tests.cli.loopback`.

It is Twilio-shaped on purpose (form body, Basic auth, status and listing
queries) but owes nothing to the real Twilio provider, so the CLI is tested on
its own. The subprocess tests install it as a real entry-point plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

import norq
from norq.register import Register

FAKE_KEY_SECRET = "fk-S3cr3t/value+with&chars=yes"
FAKE_TOKEN = "tok-other-secret-9f8e7d"


class FakeSmsConfig(BaseModel):
    # A plain pydantic model, as a third-party plugin may write it.
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    key_sid: str = "KEY123"
    key_secret: SecretStr
    token: SecretStr | None = None
    sender: str = "+15005550006"


class FakeSmsProvider(norq.Provider[FakeSmsConfig]):
    """Sends SMS to the loopback fake; supports status queries."""

    name = "fakesms"
    channels = frozenset({"sms"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"sms": norq.E164}
    env_prefix = "FAKESMS"
    description = "A Twilio-shaped SMS API for tests"

    def _auth(self) -> norq.BasicAuth:
        return norq.BasicAuth(self.config.key_sid, self.config.key_secret.get_secret_value())

    def _headers(self) -> tuple[tuple[str, str], ...]:
        if self.config.token is None:
            return ()
        return (("X-Token", self.config.token.get_secret_value()),)

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=f"{self.config.base_url}/messages",
            headers=self._headers(),
            form=(("To", message.to), ("From", self.config.sender), ("Body", message.body or "")),
            auth=self._auth(),
            message_id_path="$.sid",
            retry=self.retry,
            errors=norq.ErrorFormat(
                code_path="$.code",
                message_path="$.message",
                code_map={"21211": "invalid_recipient"},
            ),
        )

    def describe(self, message: norq.Message) -> Mapping[str, str]:
        length = len(message.body or "")
        return {"segments": str(max(1, -(-length // 153) if length > 160 else 1))}

    def prepare_status(self, message_id: str) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="GET",
            url=f"{self.config.base_url}/messages/{message_id}",
            auth=self._auth(),
            retry=self.retry,
            errors=norq.ErrorFormat(code_path="$.code", message_path="$.message"),
        )

    def read_status(self, data: Any) -> norq.MessageStatus:
        return norq.MessageStatus(
            message_id=data["sid"],
            status=data["status"],
            provider_status=data["status"],
            to=data["to"],
            sender=data["from"],
            body=data["body"],
        )

    def prepare_list(self, query: norq.MessageQuery) -> norq.PreparedRequest:
        params = [("PageSize", str(query.page_size))]
        if query.to:
            params.append(("To", query.to))
        if query.sender:
            params.append(("From", query.sender))
        if query.sent_on:
            params.append(("DateSent", query.sent_on.isoformat()))
        if query.sent_after:
            params.append(("DateSent>", query.sent_after.isoformat()))
        if query.sent_before:
            params.append(("DateSent<", query.sent_before.isoformat()))
        return norq.PreparedRequest(
            method="GET",
            url=f"{self.config.base_url}/messages",
            query=tuple(params),
            auth=self._auth(),
            retry=self.retry,
        )

    def read_page(self, data: Any) -> norq.Page:
        return norq.Page(tuple(self.read_status(item) for item in data["messages"]))


@norq.hookimpl
def register_providers(register: Register) -> None:
    register(FakeSmsProvider)
