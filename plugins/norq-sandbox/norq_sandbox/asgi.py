"""The sandbox's ASGI application: every emulated API, the admin API and the inbox.

Each provider API is a module of its own (:mod:`norq_sandbox.twilio`,
:mod:`norq_sandbox.sendgrid` and siblings, listed in :mod:`norq_sandbox.apis`),
and the SMTP server runs beside them on the same event loop
(:mod:`norq_sandbox.smtp`). Requests to any provider API pass through
:class:`FaultsAndLog` first, which records each one and applies that API's
next injected fault before the route sees it. The admin API lives under
``/_sandbox/`` and is neither recorded nor faulted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from norq_sandbox import fcm, smtp
from norq_sandbox.apis import APIS, api_for
from norq_sandbox.clock import SandboxClock
from norq_sandbox.emulated import EmulatedApi, attach_log_entry, masked, parse_fields
from norq_sandbox.faults import Fault, FaultPlan, FaultSpecError, parse_counted, parse_fault
from norq_sandbox.guard import BodyTooLarge, Guard
from norq_sandbox.push_accounts import APNS_KEY_ID, APNS_TEAM_ID, subscription_json
from norq_sandbox.records import InboxQuery, LoggedRequest, Records
from norq_sandbox.settings import DEFAULT_API_KEY_SECRET
from norq_sandbox.state import SandboxState, state_of
from norq_sandbox.twilio_resources import MAGIC_FROM, MAGIC_TO

logger = logging.getLogger("norq_sandbox")

STATIC_DIR = Path(__file__).parent / "static"
_KEEPALIVE_SECONDS = 15.0
MAX_INBOX_PAGE = 500


# -- fault injection and the request log -------------------------------------------


class FaultsAndLog:
    """ASGI middleware: record every provider API request, then apply that API's next fault."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = api_for(scope["path"]) if scope["type"] == "http" else None
        if api is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        records = self.state.records
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        params, document = parse_fields(body, headers.get("content-type", ""))
        user = api.user(headers, document if isinstance(document, dict) else params)
        record = records.record_request(
            scope["method"],
            api.public_path(scope["path"]),
            scope["query_string"].decode("latin-1"),
            masked(params),
            user,
            api=api.name,
            body_json=masked(document),
        )
        limits = self.state.limits if api.account_limits else None
        try:
            if limits is not None and not limits.enter():
                limits = None  # not admitted, so nothing to leave
                records.update_request(record, fault="limit")
                response = api.fault_response(Fault("429"), scope["path"])
                await response(scope, receive, _recording(send, records, record))
            else:
                await self._answer(scope, receive, send, api, body, record)
        finally:
            if limits is not None:
                limits.leave()
            logger.info("%s", _log_line(record))

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        api: EmulatedApi,
        body: bytes,
        record: LoggedRequest,
    ) -> None:
        records = self.state.records
        fault = self.state.plans[api.name].next()
        if fault is not None:
            records.update_request(record, fault=str(fault))
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds or 0.0)
            elif fault.kind == "drop":
                records.update_request(record, dropped=True)
                await _drop_connection(send)
                return
            elif fault.kind == "accept-drop":
                attach_log_entry(scope, record)
                await self.app(scope, _replay(body, receive), _dropping(send, records, record))
                return
            elif fault.kind == "body-error" and api.body_error_accepts(scope["path"]):
                # The provider says the request may have been carried out: so it is.
                attach_log_entry(scope, record)
                await self.app(scope, _replay(body, receive), _discard)
                response = api.fault_response(fault, scope["path"])
                await response(scope, receive, _recording(send, records, record))
                return
            else:
                response = api.fault_response(fault, scope["path"])
                await response(scope, receive, _recording(send, records, record))
                return
        attach_log_entry(scope, record)
        await self.app(scope, _replay(body, receive), _recording(send, records, record))


def _log_line(record: LoggedRequest) -> str:
    """One line per API request for the console: who, what, the answer, the fault."""
    answer = "dropped" if record.dropped else str(record.status or "no answer")
    line = f"{record.api} {record.method} {record.path} -> {answer}"
    if record.message_sid:
        line += f" {record.message_sid}"
    if record.fault:
        line += f" (fault {record.fault})"
    return line


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _discard(message: Message) -> None:
    """A ``send`` for an answer that is replaced before it goes out."""


def _recording(send: Send, records: Records, record: LoggedRequest) -> Send:
    async def recording_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            records.update_request(record, status=message["status"])
        await send(message)

    return recording_send


def _dropping(send: Send, records: Records, record: LoggedRequest) -> Send:
    """A ``send`` that closes the connection where the answer would start, and then no-ops."""
    dropped = False

    async def dropping_send(message: Message) -> None:
        nonlocal dropped
        if dropped or not message["type"].startswith("http.response."):
            return
        dropped = True
        records.update_request(record, dropped=True)
        await _drop_connection(send)

    return dropping_send


async def _drop_connection(send: Send) -> None:
    # ASGI has no way to say "close without answering", so reach the server's
    # transport through its send callable (uvicorn's request-response cycle).
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("this ASGI server does not let the sandbox drop a connection")
    transport.close()
    # Let the server notice the disconnect before the app returns, so it does
    # not try to answer 500 on the closed connection.
    for _ in range(20):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0)


# -- the admin API and the inbox -------------------------------------------------------


async def inbox(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "inbox.html", headers={"Cache-Control": "no-cache"})


async def admin_info(request: Request) -> Response:
    state = state_of(request)
    settings = state.settings
    return JSONResponse(
        {
            "base_url": str(request.base_url).rstrip("/"),
            "account_sid": settings.account_sid,
            "api_key_sid": settings.api_key_sid,
            "default_credentials": settings.api_key_secret == DEFAULT_API_KEY_SECRET,
            "step_delay": settings.step_delay,
            "undelivered": list(settings.undelivered),
            "failed": list(settings.failed),
            "magic_to": {number: code for number, (code, _) in MAGIC_TO.items()},
            "magic_from": {number: code for number, (code, _) in MAGIC_FROM.items()},
            "smtp": request.app.state.smtp_address,
            "limits": state.limits.snapshot(),
        }
    )


async def admin_messages(request: Request) -> Response:
    """A page of the messages of every channel, newest first, as the inbox shows them:
    ``?q=`` searches, ``channel``, ``api`` and ``status`` filter, ``limit`` (1-500,
    default 100) and ``before`` (the ``next`` of the previous page) page."""
    params = request.query_params
    try:
        limit = int(params.get("limit", "100"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_INBOX_PAGE:
        return JSONResponse(
            {"error": f"limit must be a whole number from 1 to {MAX_INBOX_PAGE}"}, status_code=400
        )
    query = InboxQuery(
        search=params.get("q", "").strip(),
        channel=params.get("channel") or None,
        api=params.get("api") or None,
        status=params.get("status") or None,
        before=params.get("before") or None,
        limit=limit,
    )
    page = state_of(request).records.inbox(query)
    return JSONResponse(
        {
            "messages": page.messages,
            "matching": page.matching,
            "counts": page.counts,
            "next": page.next,
        }
    )


async def admin_html(request: Request) -> Response:
    """An email's HTML part, for the inbox's sandboxed frame: no scripts, nothing remote."""
    state = state_of(request)
    message = state.records.outbox_message(request.path_params["id"])
    if message is None or message.html is None:
        return JSONResponse({"error": "no such email with an HTML part"}, status_code=404)
    return Response(
        message.html,
        media_type="text/html; charset=utf-8",
        headers={
            # Even opened on its own, the page runs nothing (a sandbox without
            # allow-scripts, and no script source) and may load only inline styles and
            # data: images. allow-same-origin lets the inbox measure it, to size its frame.
            "Content-Security-Policy": (
                "sandbox allow-same-origin; default-src 'none'; style-src 'unsafe-inline'; "
                "img-src data:"
            ),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-records",
        },
    )


async def admin_requests(request: Request) -> Response:
    state = state_of(request)
    return JSONResponse({"requests": [r.to_dict() for r in state.records.requests()]})


async def admin_reset(request: Request) -> Response:
    state = state_of(request)
    for plan in state.plans.values():
        plan.reset()
    state.limits.reset()
    state.records.reset()
    state.push.reset()
    return Response(status_code=204)


async def admin_push(request: Request) -> Response:
    """The credentials this sandbox's push services accept, as their consoles hand them out."""
    accounts = state_of(request).push
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "fcm_service_account": accounts.fcm_service_account(base + fcm.TOKEN_PATH),
            "apns": {
                "key": accounts.apns_signing_key(),
                "key_id": APNS_KEY_ID,
                "team_id": APNS_TEAM_ID,
            },
        }
    )


async def admin_push_subscriptions(request: Request) -> Response:
    """A new Web Push subscription, as ``PushSubscription.toJSON()`` shows it in a browser."""
    subscription = state_of(request).push.subscribe()
    return JSONResponse(
        subscription_json(str(request.base_url).rstrip("/"), subscription), status_code=201
    )


async def admin_push_expire(request: Request) -> Response:
    """Expire every FCM access token and APNs provider token given out so far."""
    state_of(request).push.expire_tokens()
    return Response(status_code=204)


async def admin_push_unregister(request: Request) -> Response:
    """``{"token": ...}``: that FCM or APNs token, or Web Push subscription id, is gone."""
    payload = await _json_object(request)
    token = payload.get("token") if payload is not None else None
    if not isinstance(token, str) or not token:
        return JSONResponse({"error": 'give {"token": "..."}'}, status_code=400)
    state_of(request).push.unregister(token)
    return Response(status_code=204)


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        payload = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


async def admin_faults(request: Request) -> Response:
    """One API's fault plan (``?api=``, Twilio's by default; ``"api"`` in a POST):
    GET shows it, POST adds faults or sets a rate, DELETE clears it."""
    state = state_of(request)
    try:
        if request.method == "POST":
            payload = await request.json()
            if not isinstance(payload, dict):
                raise FaultSpecError(
                    'send a JSON object: {"fault": "503", "count": 2} or {"rate": 0.1}'
                )
            faults = state.plan(str(payload.get("api", request.query_params.get("api", "twilio"))))
            _apply_fault_request(faults, payload)
        else:
            faults = state.plan(request.query_params.get("api", "twilio"))
            if request.method == "DELETE":
                faults.clear()
    except (ValueError, TypeError, KeyError) as exc:
        # FaultSpecError is a ValueError; so is malformed JSON.
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(faults.snapshot())


def _apply_fault_request(faults: FaultPlan, payload: dict[str, Any]) -> None:
    if "fault" in payload:
        fault, count = parse_counted(str(payload["fault"]))
        faults.add(fault, int(payload.get("count", count)))
    if "rate" in payload:
        kinds = payload.get("kinds", ["429", "503"])
        if not isinstance(kinds, list):
            raise FaultSpecError("kinds must be a list of faults such as ['429', 'drop']")
        seed = payload.get("seed")
        faults.set_rate(
            float(payload["rate"]),
            [parse_fault(str(kind)) for kind in kinds],
            None if seed is None else int(seed),
        )
    if "fault" not in payload and "rate" not in payload:
        raise FaultSpecError('nothing to do: give "fault" (and "count") or "rate"')


async def admin_clock(request: Request) -> Response:
    """GET shows the sandbox time; POST ``{"advance": SECONDS}`` moves it forward."""
    clock: SandboxClock = state_of(request).records.clock
    if request.method == "POST":
        try:
            payload = await request.json()
            clock.advance(float(payload["advance"]))
        except (ValueError, TypeError, KeyError) as exc:
            message = f'send a JSON object such as {{"advance": 960}} (seconds): {exc}'
            return JSONResponse({"error": message}, status_code=400)
    return JSONResponse(
        {"now": clock.now().isoformat(), "offset_seconds": clock.offset.total_seconds()}
    )


async def admin_events(request: Request) -> Response:
    """Server-sent events: every change to a message, as the inbox shows it."""
    records: Records = state_of(request).records
    queue = records.watch()

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 1000\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), _KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if event is None:
                    return
                name, data = event
                yield f"event: {name}\ndata: {json.dumps(data)}\n\n"
        finally:
            records.unwatch(queue)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _too_large(request: Request, exc: Exception) -> Response:
    limit = state_of(request).settings.max_body_bytes
    return Response(f"Request body too large: the sandbox reads at most {limit} bytes", 413)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    api = api_for(request.url.path)
    if api is not None and api.http_error is not None:
        return api.http_error(request, exc)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


def create_app(
    state: SandboxState, smtp_socket: socket.socket | None = None, *, host: str = "127.0.0.1"
) -> ASGIApp:
    """The sandbox as one ASGI app, ready for uvicorn, listening on ``host``; with
    ``smtp_socket``, the SMTP server listens there on the same event loop while the app
    runs."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        mail_server = None
        if smtp_socket is not None:
            loop = asyncio.get_running_loop()
            mail_server = await loop.create_server(smtp.protocol_factory(state), sock=smtp_socket)
        try:
            yield
        finally:
            if mail_server is not None:
                mail_server.close()
            await state.journeys.aclose()

    app = Starlette(
        routes=[
            *(route for api in APIS for route in api.routes),
            Route("/", inbox, methods=["GET"]),
            Route("/_sandbox/info", admin_info, methods=["GET"]),
            Route("/_sandbox/messages", admin_messages, methods=["GET"]),
            Route("/_sandbox/messages/{id}/html", admin_html, methods=["GET"]),
            Route("/_sandbox/events", admin_events, methods=["GET"]),
            Route("/_sandbox/requests", admin_requests, methods=["GET"]),
            Route("/_sandbox/reset", admin_reset, methods=["POST"]),
            Route("/_sandbox/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sandbox/clock", admin_clock, methods=["GET", "POST"]),
            Route("/_sandbox/push", admin_push, methods=["GET"]),
            Route("/_sandbox/push/subscriptions", admin_push_subscriptions, methods=["POST"]),
            Route("/_sandbox/push/expire-tokens", admin_push_expire, methods=["POST"]),
            Route("/_sandbox/push/unregister", admin_push_unregister, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        exception_handlers={
            **{kind: handler for api in APIS for kind, handler in api.exception_handlers.items()},
            HTTPException: _http_error,
            BodyTooLarge: _too_large,
        },
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.state.smtp_address = None
    if smtp_socket is not None:
        host, port = smtp_socket.getsockname()[:2]
        app.state.smtp_address = f"{host}:{port}"
    settings = state.settings
    return Guard(
        FaultsAndLog(app, state),
        listen_host=host,
        allowed_hosts=settings.allowed_hosts,
        max_body_bytes=settings.max_body_bytes,
    )
