"""Expiring credentials: a provider describes how to obtain a token; the executor keeps it.

The ``vault`` provider below needs a bearer token bought at ``/token``; the
server counts the exchanges and refuses tokens it has revoked. Sends go
through Norq's default transports (httpx for sync, aiohttp for async).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pluggy
import pytest

import norq
from norq import dryrun
from norq.executor import Executor
from norq.plugins import get_plugin_manager
from norq.testing import MockServer, MockTransport, RecordedRequest, json_response


class Vault(norq.TokenSource):
    def __init__(self, base_url: str, retry: norq.RetryPolicy) -> None:
        self._url = f"{base_url}/token"
        self._retry = retry

    def prepare_token(self, now: float) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=self._url,
            form=(("grant_type", "client_credentials"),),
            retry=self._retry,
            errors=norq.ErrorFormat(
                code_path="$.error", code_map={"invalid_grant": "invalid_credentials"}
            ),
        )


class VaultConfig(norq.ProviderConfig):
    base_url: str


class VaultProvider(norq.Provider[VaultConfig]):
    name = "vault"
    channels = frozenset({"push"})
    default_retry = norq.RetryPolicy(max_retries=1, backoff=0, jitter=0)

    def __init__(self, config: VaultConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._source = Vault(config.base_url, self.retry)

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=f"{self.config.base_url}/send",
            json={"to": message.to, "body": message.body},
            token=self._source,
            message_id_path="$.id",
            retry=self.retry,
        )


class VaultPlugin:
    @norq.hookimpl
    def register_providers(self, register: Callable[[type[norq.Provider]], None]) -> None:
        register(VaultProvider)


class VaultServer:
    """Issues tok-1, tok-2... at /token; /send takes a token it issued and has not revoked."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.used: list[str] = []
        self.refuse_grant = False
        self.echo_refused = False
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> norq.Response:
        with self._lock:
            if request.url.endswith("/token"):
                if self.refuse_grant:
                    return json_response(400, {"error": "invalid_grant"})
                self.issued.append(f"tok-{len(self.issued) + 1}")
                return json_response(200, {"access_token": self.issued[-1], "expires_in": 3600})
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            self.used.append(token)
            if token not in self.issued or token in self.revoked:
                said = f"token {token} refused" if self.echo_refused else "token refused"
                return json_response(401, {"message": said})
            return json_response(200, {"id": f"m-{next(self._ids)}"})


@pytest.fixture
def pm() -> Iterator[pluggy.PluginManager]:
    manager = get_plugin_manager()
    plugin = VaultPlugin()
    manager.register(plugin)
    try:
        yield manager
    finally:
        manager.unregister(plugin)


@pytest.fixture
def vault() -> Iterator[tuple[VaultServer, MockServer]]:
    api = VaultServer()
    with MockServer(handler=api) as server:
        yield api, server


def app_for(pm: pluggy.PluginManager, server: MockServer) -> norq.Norq:
    document = {
        "providers": {"vault": {"config": {"base_url": server.url}}},
        "routing": {"push": "vault"},
    }
    return norq.Norq.from_dict(document, plugin_manager=pm, environ={})


def test_one_exchange_serves_many_sends_across_threads_and_event_loops(
    pm: pluggy.PluginManager, vault: tuple[VaultServer, MockServer]
) -> None:
    api, server = vault
    app = app_for(pm, server)
    start = threading.Barrier(6)

    def sync_sends() -> list[norq.Receipt]:
        start.wait()
        return [app.notify("push", f"device-{i}", body="hi") for i in range(4)]

    def loop_sends() -> list[norq.Receipt]:
        async def many() -> list[norq.Receipt]:
            return list(
                await asyncio.gather(*(app.anotify("push", "d", body="hi") for _ in range(4)))
            )

        start.wait()
        return asyncio.run(many())

    with app, ThreadPoolExecutor(6) as pool:
        jobs = [pool.submit(sync_sends) for _ in range(3)]
        jobs += [pool.submit(loop_sends) for _ in range(3)]
        receipts = [receipt for job in jobs for receipt in job.result()]
    assert len(receipts) == 24
    assert all(receipt.ok for receipt in receipts)
    assert api.issued == ["tok-1"]
    assert set(api.used) == {"tok-1"}


def test_a_revoked_token_is_renewed_once_and_the_send_goes_through(
    pm: pluggy.PluginManager, vault: tuple[VaultServer, MockServer]
) -> None:
    api, server = vault
    with app_for(pm, server) as app:
        app.notify("push", "d", body="one")
        api.revoked.add("tok-1")
        receipt = app.notify("push", "d", body="two")
        assert (receipt.ok, receipt.attempts) == (True, 2)
        app.notify("push", "d", body="three")
    assert api.issued == ["tok-1", "tok-2"]
    assert api.used == ["tok-1", "tok-1", "tok-2", "tok-2"]


async def test_a_token_refused_again_fails_over_without_looping(
    pm: pluggy.PluginManager, vault: tuple[VaultServer, MockServer]
) -> None:
    api, server = vault
    api.revoked = {"tok-1", "tok-2", "tok-3"}
    async with app_for(pm, server) as app:
        with pytest.raises(norq.DeliveryError) as failed:
            await app.anotify("push", "d", body="hi")
    error = failed.value.receipt.error
    assert error is not None
    assert (error.code, error.disposition) == ("invalid_credentials", "failover")
    assert api.issued == ["tok-1", "tok-2"]
    assert api.used == ["tok-1", "tok-2"]


def test_a_failed_exchange_fails_over_and_the_next_send_tries_again(
    pm: pluggy.PluginManager, vault: tuple[VaultServer, MockServer]
) -> None:
    api, server = vault
    api.refuse_grant = True
    with app_for(pm, server) as app:
        with pytest.raises(norq.DeliveryError) as failed:
            app.notify("push", "d", body="hi")
        error = failed.value.receipt.error
        assert error is not None
        assert (error.code, error.disposition) == ("invalid_credentials", "failover")
        assert error.message.startswith(f"could not obtain an access token from {server.url}/token")
        assert api.used == [], "nothing is sent without a token"
        api.refuse_grant = False
        assert app.notify("push", "d", body="hi").ok
    assert api.issued == ["tok-1"]


def test_a_token_is_renewed_before_it_expires() -> None:
    now = [1_000_000.0]
    exchanges = itertools.count(1)

    def answer(request: RecordedRequest) -> norq.Response:
        if request.url.endswith("/token"):
            return json_response(200, {"access_token": f"t{next(exchanges)}", "expires_in": 600})
        return json_response(200, {"id": request.headers["authorization"]})

    mock = MockTransport(handler=answer)
    executor = Executor(transports={"http": mock}, clock=lambda: now[0])
    provider = VaultProvider(VaultConfig(base_url="https://vault.test"))
    message = norq.Message("push", "d", "hi")

    def send() -> str | None:
        return executor.send(provider.prepare_send(message), provider.read_send).message_id

    assert send() == "Bearer t1"
    now[0] += 600 - 61  # still more than the refresh margin (60 s) left
    assert send() == "Bearer t1"
    now[0] += 2  # within the margin: renewed before it expires
    assert send() == "Bearer t2"


def test_no_token_appears_in_any_output(
    pm: pluggy.PluginManager,
    vault: tuple[VaultServer, MockServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    api, server = vault
    api.echo_refused = True
    caplog.set_level(logging.DEBUG)
    with app_for(pm, server) as app:
        app.notify("push", "d", body="hi")
        api.revoked = {"tok-1", "tok-2"}
        with pytest.raises(norq.DeliveryError) as failed:
            app.notify("push", "d", body="hi")
        prepared = app.prepare("push", "d", body="hi").request
        shown = app.redactor(prepared)
    receipt = failed.value.receipt
    said = [json.dumps(receipt.to_dict()), str(failed.value), caplog.text, shown, repr(prepared)]
    for text in said:
        assert "tok-1" not in text
        assert "tok-2" not in text
    assert receipt.error is not None
    assert receipt.error.message == "token *** refused"
    assert "Authorization: ***" in shown
    verbatim = dryrun.render(prepared, None)
    assert "Authorization: Bearer ***" in verbatim
    assert repr(norq.Token("tok-9", 0.0)) == "<Token expiring at 0>"


class SlowExchange:
    """A transport whose first token exchange never answers; the rest answer at once."""

    def __init__(self) -> None:
        self.exchanges = 0

    def send(self, request: Any) -> norq.Response:
        raise AssertionError("async only")

    async def asend(self, request: Any) -> norq.Response:
        if request.url.endswith("/token"):
            self.exchanges += 1
            if self.exchanges == 1:
                await asyncio.sleep(3600)  # cancelled long before
            return json_response(200, {"access_token": "t2", "expires_in": 600})
        return json_response(200, {"id": request.headers[-1][1]})

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""


async def test_a_cancelled_exchange_leaves_its_waiters_to_obtain_their_own() -> None:
    transport = SlowExchange()
    executor = Executor(transports={"http": transport})
    provider = VaultProvider(VaultConfig(base_url="https://vault.test"))
    request = provider.prepare_send(norq.Message("push", "d", "hi"))
    first = asyncio.create_task(executor.asend(request, provider.read_send))
    await asyncio.sleep(0)  # first is obtaining the token
    second = asyncio.create_task(executor.asend(request, provider.read_send))
    await asyncio.sleep(0)  # second waits for first's exchange
    first.cancel()
    outcome = await second
    assert (outcome.ok, outcome.message_id) == (True, "Bearer t2")
    assert transport.exchanges == 2
    with pytest.raises(asyncio.CancelledError):
        await first
