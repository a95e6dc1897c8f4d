"""norq.contrib.asgi: the lifespan opens and closes the app's Norq; the dependency hands it over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import norq
from norq.contrib.asgi import get_norq, norq_lifespan
from norq.testing import MockTransport, NotificationFake, json_response
from tests.conftest import ACME_SECRET, acme_config

CONSOLE = {"providers": {"console": {}}, "routing": {"sms": "console"}}


def fastapi_app(lifespan: Any) -> FastAPI:
    app = FastAPI(lifespan=lifespan)

    @app.post("/notify")
    async def notify(phone: str, sender: Annotated[norq.Norq, Depends(get_norq)]) -> dict[str, Any]:
        receipt = await sender.anotify("sms", phone, body="hello")
        return {"ok": receipt.ok, "provider": receipt.provider}

    return app


def test_the_dependency_gives_the_lifespans_norq(norq_fake: NotificationFake) -> None:
    with TestClient(fastapi_app(norq_lifespan(CONSOLE))) as client:
        answer = client.post("/notify", params={"phone": "+15557654321"})

    assert answer.json() == {"ok": True, "provider": "console"}
    norq_fake.assert_sent(to="+15557654321", body="hello")


def test_shutting_down_closes_the_norqs_clients(plugin_manager: Any) -> None:
    mock = MockTransport(json_response(201, {"data": {"id": "M1"}}))
    app = norq.Norq.from_dict(
        acme_config(), plugin_manager=plugin_manager, environ={}, transports={"http": mock}
    )

    with TestClient(fastapi_app(norq_lifespan(app))) as client:
        assert client.post("/notify", params={"phone": "+15557654321"}).json()["ok"]
        assert not mock.closed

    assert mock.closed
    assert ACME_SECRET not in repr(mock.requests)


def test_the_config_comes_from_a_yaml_file_a_factory_or_discovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, norq_fake: NotificationFake
) -> None:
    path = tmp_path / "norq.yaml"
    path.write_text("providers: {console: {}}\nrouting: {sms: console}\n")
    monkeypatch.setenv("NORQ_CONFIG", str(path))
    sources: list[Any] = [path, str(path), lambda: norq.Norq.from_yaml(path), None]

    for source in sources:
        with TestClient(fastapi_app(norq_lifespan(source))) as client:
            assert client.post("/notify", params={"phone": "+15557654321"}).json()["ok"]

    norq_fake.assert_count(4)


def test_a_broken_config_stops_the_start_up() -> None:
    broken = {"routing": {"sms": "nowhere"}}
    with (
        pytest.raises(norq.ConfigError, match="nowhere"),
        TestClient(fastapi_app(norq_lifespan(broken))),
    ):
        pass


def test_the_applications_own_lifespan_runs_inside_with_its_state(
    norq_fake: NotificationFake,
) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def own(app: Any) -> AsyncIterator[dict[str, Any]]:
        events.append("start")
        yield {"greeting": "hello"}
        events.append("stop")

    async def endpoint(request: Request) -> JSONResponse:
        sender = get_norq(request)
        await sender.anotify("sms", "+15557654321", body=request.state.greeting)
        return JSONResponse({"sent": True})

    app = Starlette(routes=[Route("/", endpoint)], lifespan=norq_lifespan(CONSOLE, inner=own))
    with TestClient(app) as client:
        assert client.get("/").json() == {"sent": True}

    assert events == ["start", "stop"]
    norq_fake.assert_sent(body="hello")


def test_without_the_lifespan_the_dependency_says_what_to_add() -> None:
    client = TestClient(fastapi_app(None))
    with pytest.raises(RuntimeError, match=r"lifespan=norq_lifespan\(\.\.\.\)"):
        client.post("/notify", params={"phone": "+15557654321"})


def test_the_plugins_given_are_registered_on_the_lifespans_norq() -> None:
    class Hooks:
        @norq.hookimpl
        def after_send(self, receipt: norq.Receipt) -> None:
            seen.append(receipt.provider)

    seen: list[str] = []
    app = fastapi_app(norq_lifespan(CONSOLE, plugins=[Hooks()]))
    with TestClient(app) as client:
        client.post("/notify", params={"phone": "+15557654321"})

    assert seen == ["console"]
