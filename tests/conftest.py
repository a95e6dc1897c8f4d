"""Fixtures shared by the core tests: a throwaway JSON provider and Norq builders."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import pluggy
import pytest
from pydantic import SecretStr

import norq
from norq.executor import Executor
from norq.plugins import get_plugin_manager

ACME_SECRET = "acme-SECRET-k3y/with+chars"


class AcmeConfig(norq.ProviderConfig):
    base_url: str = "https://api.acme.test"
    api_key: SecretStr
    sender: str = "Norq"
    default_priority: int = 0


class AcmeProvider(norq.Provider[AcmeConfig]):
    """A JSON API provider used to exercise the core without Twilio."""

    name = "acme"
    channels = frozenset({"sms", "email"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {
        "sms": norq.E164,
        "email": norq.EMAIL,
    }
    env_prefix = "ACME"
    message_fields = frozenset({"subject", "priority"})

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=f"{self.config.base_url}/v1/messages",
            auth=norq.BasicAuth("norq", self.config.api_key.get_secret_value()),
            json={
                "to": message.to,
                "from": self.config.sender,
                "text": message.body,
                **message.fields,
            },
            success_statuses=frozenset({200, 201, 202}),
            message_id_path="$.data.id",
            retry=self.retry,
            errors=norq.ErrorFormat(
                code_path="$.error.code",
                message_path="$.error.message",
                more_info_path="$.error.docs",
                code_map={"E_NUMBER": "invalid_recipient", "E_KEY": "invalid_credentials"},
            ),
        )


class AcmePlugin:
    @norq.hookimpl
    def register_providers(self, register: Callable[[type[norq.Provider]], None]) -> None:
        register(AcmeProvider)


@pytest.fixture
def plugin_manager() -> Iterator[pluggy.PluginManager]:
    """A fresh plugin manager per test, with the Acme test provider registered."""
    pm = get_plugin_manager()
    plugin = AcmePlugin()
    pm.register(plugin, name="acme-test-plugin")
    try:
        yield pm
    finally:
        pm.unregister(plugin)


class Sleeps:
    """Records the waits the executor asks for instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def quiet_executor(sleeps: Sleeps, **settings: Any) -> Executor:
    """An executor that never really waits, using httpx for async so respx sees it.

    The plugins' tests (plugins/*/tests_*) build theirs with it too.
    """
    return Executor(
        sleep=sleeps,
        async_sleep=sleeps.async_sleep,
        rng=random.Random(7),
        async_transport="httpx",
        **settings,
    )


@contextmanager
def quiet_norqs(
    default: Callable[[], dict[str, Any]], sleeps: Sleeps, **settings: Any
) -> Iterator[Callable[..., norq.Norq]]:
    """``build(document=default())``: Norq instances sharing one :func:`quiet_executor`."""
    executor = quiet_executor(sleeps, **settings)

    def build(document: dict[str, Any] | None = None) -> norq.Norq:
        return norq.Norq.from_dict(document or default(), environ={}, executor=executor)

    try:
        yield build
    finally:
        executor.close()


@pytest.fixture
def executor(sleeps: Sleeps) -> Iterator[Executor]:
    ex = quiet_executor(sleeps)
    yield ex
    ex.close()


def acme_config(**extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "providers": {"acme": {"config": {"api_key": ACME_SECRET}}},
        "routing": {"sms": "acme"},
    }
    document.update(extra)
    return document


@pytest.fixture
def make_norq(plugin_manager: pluggy.PluginManager, executor: Executor) -> Callable[..., norq.Norq]:
    def build(document: dict[str, Any] | None = None, **kwargs: Any) -> norq.Norq:
        kwargs.setdefault("environ", {})
        return norq.Norq.from_dict(
            document if document is not None else acme_config(),
            plugin_manager=plugin_manager,
            executor=executor,
            **kwargs,
        )

    return build
