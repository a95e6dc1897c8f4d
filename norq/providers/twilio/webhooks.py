"""An ASGI app that receives Twilio's status callbacks and inbound messages.

Mount it in any Starlette or FastAPI application::

    app.mount("/twilio", create_webhook_app(norq_app))

and point Twilio at ``https://<your host>/twilio/status`` (``status_callback``)
and ``https://<your host>/twilio/inbound`` (the number's "a message comes in"
webhook). Every request must carry a valid ``X-Twilio-Signature``: an unsigned
or badly signed request is answered 403 and reaches no hook, and a body over
64 KB is refused (413) without being read past the limit. Twilio retries a
webhook it got no answer for, with the same ``I-Twilio-Idempotency-Token``;
the app runs the hooks once per token: a copy that arrives while the first
is still being processed waits for it and gets the same answer.

A verified request becomes a :class:`norq.MessageStatus` for the
``delivery_status`` hook or a :class:`norq.InboundMessage` for the
``inbound_message`` hook, and is answered with empty TwiML. If a hook raises,
the answer is 500 so that Twilio tries again later.

Starlette is an optional dependency: ``pip install 'norq[webhooks]'``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import pluggy
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from norq.providers.twilio.config import check_http_url
from norq.providers.twilio.provider import TwilioProvider
from norq.providers.twilio.signature import (
    SIGNATURE_SETTINGS_HEADER,
    SUPPORTED_ALGORITHMS,
    is_valid_signature,
    signature_algorithm,
)
from norq.providers.twilio.status import CallbackError, callback_status, inbound_message

if TYPE_CHECKING:
    from norq.app import Norq

logger = logging.getLogger("norq")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
SIGNATURE_HEADER = "x-twilio-signature"
IDEMPOTENCY_HEADER = "i-twilio-idempotency-token"
MAX_BODY_BYTES = 64 * 1024


class _Deliveries:
    """Runs each webhook delivery's hooks once per idempotency token.

    A token is *settled* once its hooks returned; the last ``size`` settled
    tokens are remembered, oldest forgotten first. A duplicate that arrives
    while the first delivery's hooks still run waits for them and gets the
    same answer: answering it 200 early would tell Twilio all is well even if
    the first then fails.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._settled: OrderedDict[str, None] = OrderedDict()
        self._running: dict[str, asyncio.Future[bool]] = {}

    async def deliver(self, token: str | None, call_hooks: Callable[[], Any]) -> bool:
        """Whether the hooks for this delivery succeeded, now or for an earlier copy."""
        if not token:
            return await _run_hooks(call_hooks)
        if token in self._settled:
            return True
        running = self._running.get(token)
        if running is None:
            running = self._running[token] = asyncio.ensure_future(_run_hooks(call_hooks))
            running.add_done_callback(lambda done: self._settle(token, done))
        # Shielded: a client that hangs up must not cancel the hooks of a
        # delivery other requests may be waiting for.
        return await asyncio.shield(running)

    def _settle(self, token: str, done: asyncio.Future[bool]) -> None:
        del self._running[token]
        if done.cancelled() or not done.result():
            return  # forgotten, so Twilio's retry is processed
        self._settled[token] = None
        while len(self._settled) > self._size:
            self._settled.popitem(last=False)


async def _run_hooks(call_hooks: Callable[[], Any]) -> bool:
    try:
        await run_in_threadpool(call_hooks)
    except Exception:
        logger.exception("a webhook hook failed; answering 500 so Twilio retries")
        return False
    return True


def create_webhook_app(
    target: Norq | pluggy.PluginManager,
    *,
    provider: str = "twilio",
    auth_token: str | None = None,
    public_url: str | None = None,
    remember: int = 10_000,
) -> Starlette:
    """The webhook app for one Twilio provider instance.

    - ``target`` — a :class:`norq.Norq` (its plugin manager's hooks are called
      and the signing key is read from ``providers.<provider>.config``), or a
      bare ``pluggy.PluginManager`` together with ``auth_token``.
    - ``provider`` — the instance name, passed to the hooks as ``provider``.
    - ``auth_token`` — the account auth token that verifies signatures; by
      default the instance's ``auth_token`` or ``webhook_auth_token``.
    - ``public_url`` — the URL at which Twilio reaches this app's root, when it
      differs from what the app sees (behind a proxy or a tunnel), such as
      ``https://hooks.example.com/twilio``. Signatures are checked against it.
      By default the config's ``webhooks.public_url``.
    - ``remember`` — how many idempotency tokens to keep for de-duplication.
    """
    plugin_manager, signing_key = _resolve(target, provider, auth_token)
    if public_url is None and not isinstance(target, pluggy.PluginManager):
        public_url = target.config.webhooks.public_url
    if public_url is not None:
        public_url = check_http_url(public_url, "public_url").rstrip("/")
        if urlsplit(public_url).query:
            raise ValueError(f"public_url {public_url!r} must not have a query")
    if remember < 1:
        raise ValueError("remember must be at least 1")
    deliveries = _Deliveries(remember)

    def on_status(fields: Mapping[str, str]) -> Callable[[], Any]:
        status = callback_status(fields)
        return lambda: plugin_manager.hook.delivery_status(status=status, provider=provider)

    def on_inbound(fields: Mapping[str, str]) -> Callable[[], Any]:
        message = inbound_message(fields)
        return lambda: plugin_manager.hook.inbound_message(message=message, provider=provider)

    def endpoint(
        parse: Callable[[Mapping[str, str]], Callable[[], Any]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def receive(request: Request) -> Response:
            body = await _read_body(request)
            if isinstance(body, Response):
                return body
            url = _signed_url(request, public_url)
            fields = _verified_fields(request, body, url, signing_key)
            if fields is None:
                logger.warning(
                    "rejected a webhook to %s: missing or invalid X-Twilio-Signature",
                    request.url.path,
                )
                return PlainTextResponse("invalid Twilio signature", status_code=403)
            try:
                call_hooks = parse(fields)
            except CallbackError as exc:
                return PlainTextResponse(str(exc), status_code=400)
            if await deliveries.deliver(request.headers.get(IDEMPOTENCY_HEADER), call_hooks):
                return _twiml()
            return PlainTextResponse("hook failed", status_code=500)

        return receive

    return Starlette(
        routes=[
            Route("/status", endpoint(on_status), methods=["POST"]),
            Route("/inbound", endpoint(on_inbound), methods=["POST"]),
        ]
    )


def _resolve(
    target: Norq | pluggy.PluginManager, provider: str, auth_token: str | None
) -> tuple[pluggy.PluginManager, str]:
    if isinstance(target, pluggy.PluginManager):
        if not auth_token:
            raise ValueError(
                "pass auth_token= (the Twilio account auth token) when creating the webhook "
                "app from a plugin manager; without it no request could be verified"
            )
        return target, auth_token
    plugin_manager = target.plugin_manager
    if auth_token:
        return plugin_manager, auth_token
    instance = target.providers.get(provider)
    if not isinstance(instance, TwilioProvider):
        known = ", ".join(n for n, p in target.providers.items() if isinstance(p, TwilioProvider))
        raise ValueError(
            f"{provider!r} is not a configured Twilio provider (Twilio instances: "
            f"{known or 'none'}); pass provider= or auth_token="
        )
    key = instance.config.signing_key
    if key is None:
        raise ValueError(
            f"provider {provider!r} authenticates with an API key, which cannot verify "
            "webhook signatures: set webhook_auth_token (the account auth token) in its "
            "config, or pass auth_token="
        )
    return plugin_manager, key


async def _read_body(request: Request) -> bytes | Response:
    """The body, or the error answer when it is over :data:`MAX_BODY_BYTES`.

    A declared ``Content-Length`` over the limit is refused before reading,
    and a body without one is read only up to the limit, so an oversized
    request costs no more than 64 KB of memory.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            return PlainTextResponse("invalid Content-Length", status_code=400)
        if int(declared) > MAX_BODY_BYTES:
            return _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> Response:
    return PlainTextResponse(
        f"request body too large: the limit is {MAX_BODY_BYTES} bytes", status_code=413
    )


def _signed_url(request: Request, public_url: str | None) -> str:
    """The URL Twilio signed: as requested, or under ``public_url`` when given."""
    if public_url is None:
        return str(request.url)
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    query = request.scope.get("query_string", b"").decode("latin-1")
    return public_url + path + (f"?{query}" if query else "")


def _verified_fields(
    request: Request, body: bytes, url: str, signing_key: str
) -> dict[str, str] | None:
    """The request's parameters if its signature is Twilio's, else None."""
    signature = request.headers.get(SIGNATURE_HEADER)
    algorithm = signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    if algorithm.upper() not in SUPPORTED_ALGORITHMS:
        logger.warning("unsupported webhook signature algorithm %r", algorithm)
        return None
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == "application/json":
        if not is_valid_signature(signing_key, url, signature, body=body, algorithm=algorithm):
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): "" if v is None else str(v) for k, v in data.items()}
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    if not is_valid_signature(signing_key, url, signature, pairs, algorithm=algorithm):
        return None
    return dict(pairs)


def _twiml() -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml")
