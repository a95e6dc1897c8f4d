"""A Norq's lifecycle across threads: built once, closed on request, no stray clients."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pluggy
import pytest

import norq
from norq import default as default_module
from norq import executor as executor_module
from norq.testing import MockServer, MockTransport, json_response
from norq.transports.base import Response
from tests.conftest import acme_config
from tests.e2e.loopback import run_in_threads

THREADS = 16
OK = json_response(201, {"data": {"id": "m1"}})


def build(plugin_manager: pluggy.PluginManager, **kwargs: Any) -> norq.Norq:
    return norq.Norq.from_dict(acme_config(), plugin_manager=plugin_manager, environ={}, **kwargs)


@pytest.mark.parametrize(
    ("recipients", "problem"),
    [
        ("+15551234567", "got the string '+15551234567'"),
        (b"+15551234567", "got the string b'+15551234567'"),
        (norq.Recipient("+15551234567"), "got a single Recipient"),
        ({"to": "+15551234567"}, "got a single dict"),
        (15551234567, "got int"),
    ],
)
def test_a_single_recipient_is_not_a_list_of_recipients(
    plugin_manager: pluggy.PluginManager, recipients: Any, problem: str
) -> None:
    mock = MockTransport(handler=lambda recorded: OK)
    app = build(plugin_manager, transports={"http": mock})
    for send in (app.notify_many, app.anotify_many):
        with pytest.raises(norq.MessageError, match=re.escape(problem)) as caught:
            send("sms", recipients, body="hi")
        assert caught.value.code == "invalid_recipient"
    assert mock.requests == []


def test_a_list_tuple_generator_or_set_of_recipients_is_fine(
    plugin_manager: pluggy.PluginManager,
) -> None:
    app = build(plugin_manager, transports={"http": MockTransport(handler=lambda r: OK)})
    for recipients in (["+15551234567"], ("+15551234567",), iter(["+15551234567"])):
        assert [r.ok for r in app.notify_many("sms", recipients, body="hi")] == [True]


class CountingExecutor(executor_module.Executor):
    built = 0
    lock = threading.Lock()

    def __init__(self, **kwargs: Any) -> None:
        with CountingExecutor.lock:
            CountingExecutor.built += 1
        threading.Event().wait(0.01)  # widens the window a racing thread would slip through
        super().__init__(**kwargs)


@pytest.fixture
def counting_executor(monkeypatch: pytest.MonkeyPatch) -> type[CountingExecutor]:
    CountingExecutor.built = 0
    monkeypatch.setattr(executor_module, "Executor", CountingExecutor)
    return CountingExecutor


def test_sixteen_threads_on_a_fresh_norq_build_one_executor(
    plugin_manager: pluggy.PluginManager, counting_executor: type[CountingExecutor]
) -> None:
    mock = MockTransport(handler=lambda recorded: OK)
    app = build(plugin_manager, transports={"http": mock})
    receipts = run_in_threads(THREADS, lambda _: app.notify("sms", "+15551234567", body="hi"))
    assert all(isinstance(r, norq.Receipt) and r.ok for r in receipts)
    assert counting_executor.built == 1
    assert len(mock.requests) == THREADS


def test_sixteen_threads_on_a_fresh_executor_build_one_transport(
    plugin_manager: pluggy.PluginManager,
) -> None:
    built: list[MockTransport] = []

    def factory(settings: object) -> MockTransport:
        threading.Event().wait(0.01)
        built.append(MockTransport(handler=lambda recorded: OK))
        return built[-1]

    executor = executor_module.Executor(factories={"http": factory})
    app = build(plugin_manager, executor=executor)
    run_in_threads(THREADS, lambda _: app.notify("sms", "+15551234567", body="hi"))
    assert len(built) == 1
    assert len(built[0].requests) == THREADS


def test_the_default_norq_is_built_once_and_closed_on_request(
    plugin_manager: pluggy.PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[norq.Norq] = []
    closed: list[norq.Norq] = []

    class Tracked(norq.Norq):
        def close(self) -> None:
            closed.append(self)
            super().close()

    def discover(**kwargs: Any) -> norq.Norq:
        threading.Event().wait(0.01)
        app = Tracked.from_dict(
            acme_config(),
            plugin_manager=plugin_manager,
            environ={},
            transports={"http": MockTransport(handler=lambda r: OK)},
        )
        built.append(app)
        return app

    monkeypatch.setattr(default_module, "_default", None)
    monkeypatch.setattr(norq.Norq, "discover", staticmethod(discover))
    run_in_threads(THREADS, lambda _: norq.notify("sms", "+15551234567", body="hi"))
    assert len(built) == 1
    norq.close()
    assert closed == built
    norq.notify("sms", "+15551234567", body="again")
    assert len(built) == 2
    norq.close()
    norq.close()  # closing when nothing is open is fine
    assert closed == built


def test_a_transport_that_raises_gives_an_unconfirmed_receipt(
    plugin_manager: pluggy.PluginManager,
) -> None:
    class Broken(MockTransport):
        def send(self, request: Any) -> Response:
            raise RuntimeError("Event loop is closed")

        async def asend(self, request: Any) -> Response:
            raise ExceptionGroup("task group", [OSError("reset")])

    app = build(plugin_manager, transports={"http": Broken()})
    [sync] = list(app.notify_many("sms", ["+15551234567"], body="hi"))

    async def send_async() -> list[norq.Receipt]:
        return [r async for r in app.anotify_many("sms", ["+15551234567"], body="hi")]

    import asyncio

    [async_] = asyncio.run(send_async())
    for receipt in (sync, async_):
        assert receipt.error is not None
        assert receipt.error.code == "connection_lost"
        assert receipt.unconfirmed
        assert receipt.attempts == 1


SCRIPT = """
import asyncio, norq
{body}
"""


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("body", "strict"),
    [
        # asyncio.run ends the loop: its session is closed in it.
        ("asyncio.run(norq.anotify('sms', '+15558675310', body='hi'))", True),
        # A loop closed by hand, without finalising async generators: the
        # session is released at exit; its sockets can only be dropped then.
        (
            textwrap.dedent(
                """
                loop = asyncio.new_event_loop()
                loop.run_until_complete(norq.anotify('sms', '+15558675310', body='hi'))
                loop.close()
                """
            ),
            False,
        ),
        # Sync and async sends, then an explicit close.
        (
            "norq.notify('sms', '+15558675310', body='hi')\n"
            "asyncio.run(norq.anotify('sms', '+15558675310', body='hi'))\n"
            "norq.close()",
            True,
        ),
    ],
    ids=["asyncio-run", "closed-loop", "explicit-close"],
)
def test_the_default_norq_leaves_no_unclosed_session_at_exit(
    tmp_path: Path, body: str, strict: bool
) -> None:
    accepted = json_response(201, {"sid": "SM" + "0" * 32, "status": "queued"})
    with MockServer(handler=lambda recorded: accepted) as server:
        config = tmp_path / "norq.yaml"
        config.write_text(
            textwrap.dedent(
                f"""
                providers:
                  twilio:
                    config:
                      account_sid: AC{"0" * 32}
                      auth_token: token-for-tests
                      from: "+15005550006"
                      base_url: {server.url}
                routing: {{sms: twilio}}
                executor: {{async_transport: aiohttp}}
                """
            )
        )
        result = subprocess.run(
            [sys.executable, "-W", "default", "-c", SCRIPT.format(body=body)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"NORQ_CONFIG": str(config), "PATH": "/usr/bin:/bin"},
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stderr
    assert "Unclosed client session" not in result.stderr
    assert "Unclosed connector" not in result.stderr
    if strict:
        assert "ResourceWarning" not in result.stderr
    assert len(server.requests) >= 1
