"""The contenders: Norq and what a user would write instead, each sending ``n`` messages.

Every contender does the same work per message: a form-encoded POST with Basic
auth to the Messages endpoint, then the ``sid`` read from the JSON answer.
Clients are opened once (``setup``) and reused across rounds, as an
application would; only ``run`` is timed.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Iterator
from typing import Any

ACCOUNT_SID = "AC" + "0" * 32
API_KEY_SID = "SK" + "1" * 32
API_KEY_SECRET = "benchmark-secret"
SENDER = "+15005550006"
BODY = "Your order 1234 has shipped and arrives tomorrow."
TEMPLATE = "Hello {{ name }}, your code is {{ code }}. It expires in {{ minutes }} minutes."


def recipient(i: int) -> str:
    return f"+1555{i % 10_000_000:07d}"


def recipients(n: int) -> Iterator[str]:
    return (recipient(i) for i in range(n))


def messages_url(base: str) -> str:
    return f"{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def norq_config(base_url: str, max_connections: int | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "providers": {
            "twilio": {
                "config": {
                    "account_sid": ACCOUNT_SID,
                    "api_key_sid": API_KEY_SID,
                    "api_key_secret": API_KEY_SECRET,
                    "from": SENDER,
                    "base_url": base_url,
                },
            }
        },
        "routing": {"sms": "twilio"},
        "templates": {"code": {"sms": {"body": TEMPLATE}}},
    }
    if max_connections is not None:
        config["executor"] = {"max_connections": max_connections}
    return config


def build_norq(base_url: str, max_connections: int | None = None) -> Any:
    """A :class:`norq.Norq` on the built-in ``twilio`` provider, configured as a user would."""
    from norq import Norq

    return Norq.from_dict(norq_config(base_url, max_connections), environ={})


# -- sync -----------------------------------------------------------------------


class SyncContender(abc.ABC):
    name = ""

    @abc.abstractmethod
    def setup(self, base_url: str) -> None: ...

    @abc.abstractmethod
    def run(self, n: int) -> None: ...

    def close(self) -> None:
        return None


class NorqSync(SyncContender):
    name = "norq notify() loop"

    def setup(self, base_url: str) -> None:
        self.norq = build_norq(base_url)

    def run(self, n: int) -> None:
        notify = self.norq.notify
        for to in recipients(n):
            receipt = notify("sms", to, body=BODY)
            assert receipt.message_id

    def close(self) -> None:
        self.norq.close()


class HttpxSync(SyncContender):
    name = "raw httpx.Client"

    def setup(self, base_url: str) -> None:
        import httpx

        self.url = messages_url(base_url)
        self.client = httpx.Client(auth=(API_KEY_SID, API_KEY_SECRET), timeout=10.0)

    def run(self, n: int) -> None:
        post, url = self.client.post, self.url
        for to in recipients(n):
            response = post(url, data={"To": to, "From": SENDER, "Body": BODY})
            assert response.status_code == 201
            assert response.json()["sid"]

    def close(self) -> None:
        self.client.close()


class TwilioSync(SyncContender):
    name = "twilio sync (messages.create)"

    def setup(self, base_url: str) -> None:
        from twilio.rest import Client

        self.client = Client(API_KEY_SID, API_KEY_SECRET, ACCOUNT_SID)
        self.client.api.base_url = base_url

    def run(self, n: int) -> None:
        create = self.client.messages.create
        for to in recipients(n):
            assert create(to=to, from_=SENDER, body=BODY).sid


# -- async ----------------------------------------------------------------------


class AsyncContender(abc.ABC):
    name = ""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency

    @abc.abstractmethod
    async def setup(self, base_url: str) -> None: ...

    @abc.abstractmethod
    async def run(self, n: int) -> None: ...

    async def close(self) -> None:
        return None

    async def _workers(self, n: int, send: Any) -> None:
        """``concurrency`` tasks sharing one iterator of recipients."""
        pending = recipients(n)

        async def worker() -> None:
            for to in pending:
                await send(to)

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))


class NorqAsync(AsyncContender):
    @property
    def name(self) -> str:  # type: ignore[override]
        return f"norq anotify_many conc {self.concurrency}"

    async def setup(self, base_url: str) -> None:
        # Default settings, as a user would run it: the pool of 64 connections
        # also bounds the requests in flight at concurrency 256
        # (docs/performance.md, "Pool size").
        self.norq = build_norq(base_url)

    async def run(self, n: int) -> None:
        sent = 0
        async for receipt in self.norq.anotify_many(
            "sms", recipients(n), body=BODY, concurrency=self.concurrency
        ):
            assert receipt.message_id, receipt
            sent += 1
        assert sent == n

    async def close(self) -> None:
        await self.norq.aclose()


class AiohttpAsync(AsyncContender):
    @property
    def name(self) -> str:  # type: ignore[override]
        return f"raw aiohttp conc {self.concurrency}"

    async def setup(self, base_url: str) -> None:
        import aiohttp

        self.url = messages_url(base_url)
        self.session = aiohttp.ClientSession(
            auth=aiohttp.BasicAuth(API_KEY_SID, API_KEY_SECRET),
        )

    async def run(self, n: int) -> None:
        post, url = self.session.post, self.url

        async def send(to: str) -> None:
            async with post(url, data={"To": to, "From": SENDER, "Body": BODY}) as response:
                assert response.status == 201
                assert (await response.json())["sid"]

        await self._workers(n, send)

    async def close(self) -> None:
        await self.session.close()


class TwilioAsync(AsyncContender):
    @property
    def name(self) -> str:  # type: ignore[override]
        return f"twilio async (create_async) conc {self.concurrency}"

    async def setup(self, base_url: str) -> None:
        from twilio.http.async_http_client import AsyncTwilioHttpClient
        from twilio.rest import Client

        self.http = AsyncTwilioHttpClient()
        self.client = Client(API_KEY_SID, API_KEY_SECRET, ACCOUNT_SID, http_client=self.http)
        self.client.api.base_url = base_url

    async def run(self, n: int) -> None:
        create = self.client.messages.create_async

        async def send(to: str) -> None:
            assert (await create(to=to, from_=SENDER, body=BODY)).sid

        await self._workers(n, send)

    async def close(self) -> None:
        await self.http.close()


class HttpxAsync(AsyncContender):
    @property
    def name(self) -> str:  # type: ignore[override]
        return f"httpx.AsyncClient conc {self.concurrency}"

    async def setup(self, base_url: str) -> None:
        import httpx

        self.url = messages_url(base_url)
        self.client = httpx.AsyncClient(
            auth=(API_KEY_SID, API_KEY_SECRET),
            timeout=30.0,
        )

    async def run(self, n: int) -> None:
        post, url = self.client.post, self.url

        async def send(to: str) -> None:
            response = await post(url, data={"To": to, "From": SENDER, "Body": BODY})
            assert response.status_code == 201
            assert response.json()["sid"]

        await self._workers(n, send)

    async def close(self) -> None:
        await self.client.aclose()


# -- pure build -----------------------------------------------------------------


def build_rate_run(norq: Any, n: int) -> None:
    """Norq's own work per message of a bulk send, no I/O: address, render, check, prepare.

    The same calls ``anotify_many`` makes for each recipient (routing and the
    shared checks run once per bulk send); reaching for the router is the
    price of timing them without the network.
    """
    from norq.notification import Notification

    router = norq._wiring.router
    shared = Notification("sms", None, template="code")
    chain = router.plan(shared)
    compose, prepare_send = router.compose, chain[0].prepare_send
    for i in range(n):
        notification = shared.for_recipient(
            recipient(i), data={"name": "Ada", "code": i, "minutes": 10}
        )
        assert prepare_send(compose(notification, chain).first.message).form


class BuildOnly(AsyncContender):
    """The pure build loop as a contender, so it runs interleaved with the sends."""

    name = "norq build (render + checks + prepare_send)"

    async def setup(self, base_url: str) -> None:
        self.norq = build_norq(base_url)

    async def run(self, n: int) -> None:
        build_rate_run(self.norq, n)

    async def close(self) -> None:
        await self.norq.aclose()
