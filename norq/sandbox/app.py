"""The sandbox's ASGI application: the emulated provider APIs, the admin API and the inbox.

Twilio's Messages API lives here; SendGrid, Vonage and Slack each have a
module of their own (:mod:`norq.sandbox.sendgrid` and siblings), and the SMTP
server runs beside them on the same event loop (:mod:`norq.sandbox.smtp`).
Requests to any provider API pass through :class:`FaultsAndLog` first, which
records each one and applies that API's next injected fault before the route
sees it. The admin API lives under ``/_sandbox/`` and is neither recorded nor
faulted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hmac
import json
import logging
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from norq.providers.twilio.segments import count_segments
from norq.sandbox import sendgrid, slack, smtp, vonage
from norq.sandbox.clock import SandboxClock
from norq.sandbox.delivery import Delivery
from norq.sandbox.emulated import EmulatedApi, masked, parse_fields
from norq.sandbox.faults import Fault, FaultPlan, FaultSpecError, parse_counted, parse_fault
from norq.sandbox.limits import AccountLimits
from norq.sandbox.resources import (
    API_PREFIX,
    DEFAULT_PAGE_SIZE,
    MAGIC_FROM,
    MAGIC_TO,
    MAX_PAGE_SIZE,
    SandboxMessage,
    TwilioError,
    authentication_failed,
    not_found,
    parse_date_filter,
    validate_create,
)
from norq.sandbox.settings import DEFAULT_API_KEY_SECRET, SandboxSettings
from norq.sandbox.store import RecordedRequest, Store

logger = logging.getLogger("norq.sandbox")

STATIC_DIR = Path(__file__).parent / "static"
_RECORD = "norq.sandbox.record"
_KEEPALIVE_SECONDS = 15.0
_DATE_FILTERS = ("DateSent", "DateSent<", "DateSent>")


@dataclass(frozen=True, slots=True)
class SandboxState:
    """Everything one sandbox instance holds: settings, messages, faults, deliveries.

    ``plans`` has one fault plan per emulated API (``twilio``, ``sendgrid``,
    ``vonage``, ``slack``, ``smtp``); ``faults`` is Twilio's.
    """

    settings: SandboxSettings
    store: Store
    delivery: Delivery
    limits: AccountLimits
    plans: dict[str, FaultPlan] = field(default_factory=dict)

    @property
    def faults(self) -> FaultPlan:
        return self.plans["twilio"]

    def plan(self, api: str) -> FaultPlan:
        """The fault plan of ``api``; FaultSpecError naming the choices if there is none."""
        try:
            return self.plans[api]
        except KeyError:
            raise FaultSpecError(
                f"no API called {api!r}: choose one of {', '.join(self.plans)}"
            ) from None

    @classmethod
    def create(cls, settings: SandboxSettings) -> SandboxState:
        store = Store(settings.account_sid, count_segments, SandboxClock())
        delivery = Delivery(
            store,
            settings.auth_token,
            step_delay=settings.step_delay,
            undelivered=settings.undelivered,
            failed=settings.failed,
        )
        plans = {api.name: FaultPlan(api.name, api.faults) for api in APIS}
        plans["smtp"] = FaultPlan("smtp", smtp.SMTP_FAULTS)
        limits = AccountLimits(settings.rate_limit, settings.max_concurrent)
        return cls(settings, store, delivery, limits, plans)


# -- fault injection and the request log -------------------------------------------


class FaultsAndLog:
    """ASGI middleware: record every provider API request, then apply that API's next fault."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = _api_for(scope["path"]) if scope["type"] == "http" else None
        if api is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        store = self.state.store
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        params, document = parse_fields(body, headers.get("content-type", ""))
        if api is TWILIO:
            user = _basic_username(scope)
        else:
            user = api.user(headers, document if isinstance(document, dict) else params)
        record = store.record_request(
            scope["method"],
            scope["path"],
            scope["query_string"].decode("latin-1"),
            masked(params),
            user,
            api=api.name,
            body_json=masked(document),
        )
        # Twilio's account limits hold for its API only, as they do at Twilio.
        limits = self.state.limits if api is TWILIO else None
        if limits is not None and not limits.enter():
            store.update_request(record, fault="limit")
            over = TwilioError(429, 20429, "Too Many Requests")
            response = JSONResponse(over.body(), status_code=429)
            await response(scope, receive, _recording(send, store, record))
            return
        try:
            await self._answer(scope, receive, send, api, body, record)
        finally:
            if limits is not None:
                limits.leave()

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        api: EmulatedApi,
        body: bytes,
        record: RecordedRequest,
    ) -> None:
        store = self.state.store
        fault = self.state.plans[api.name].next()
        if fault is not None:
            store.update_request(record, fault=str(fault))
            logger.info("%s %s: injecting %s", scope["method"], scope["path"], fault)
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds or 0.0)
            elif fault.kind == "drop":
                store.update_request(record, dropped=True)
                await _drop_connection(send)
                return
            elif fault.kind == "accept-drop":
                scope[_RECORD] = record
                await self.app(scope, _replay(body, receive), _dropping(send, store, record))
                return
            else:
                response = api.fault_response(fault, scope["path"])
                await response(scope, receive, _recording(send, store, record))
                return
        scope[_RECORD] = record
        await self.app(scope, _replay(body, receive), _recording(send, store, record))


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


def _recording(send: Send, store: Store, record: RecordedRequest) -> Send:
    async def recording_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            store.update_request(record, status=message["status"])
        await send(message)

    return recording_send


def _dropping(send: Send, store: Store, record: RecordedRequest) -> Send:
    """A ``send`` that closes the connection where the answer would start, and then no-ops."""
    dropped = False

    async def dropping_send(message: Message) -> None:
        nonlocal dropped
        if dropped or not message["type"].startswith("http.response."):
            return
        dropped = True
        store.update_request(record, dropped=True)
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


def _api_for(path: str) -> EmulatedApi | None:
    return next((api for api in APIS if api.serves(path)), None)


def _twilio_fault_response(fault: Fault, path: str) -> Response:
    status = fault.status or 500
    if status == 429:
        error = TwilioError(429, 20429, "Too Many Requests")
    elif status == 503:
        error = TwilioError(503, 20503, "Service Unavailable")
    else:
        error = TwilioError(status, 20500, "Internal Server Error")
    headers = {}
    if fault.seconds is not None:
        headers["Retry-After"] = f"{fault.seconds:g}"
    return JSONResponse(error.body(), status_code=status, headers=headers)


def _basic_username(scope: Scope) -> str | None:
    credentials = _basic_credentials(scope)
    return None if credentials is None else credentials[0]


def _basic_credentials(scope: Scope) -> tuple[str, str] | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            username, separator, password = decoded.partition(":")
            return (username, password) if separator else None
    return None


# -- the Twilio Messages API ---------------------------------------------------------


def _authenticate(request: Request) -> None:
    settings: SandboxSettings = request.app.state.sandbox.settings
    credentials = _basic_credentials(request.scope)
    if credentials is None:
        raise authentication_failed()
    username, password = credentials
    expected = settings.secret_for(username)
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
        raise authentication_failed()
    if request.path_params["account_sid"] != settings.account_sid:
        raise authentication_failed()


async def create_message(request: Request) -> Response:
    _authenticate(request)
    state: SandboxState = request.app.state.sandbox
    params = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    draft = validate_create(params, state.store.clock.now())
    message = state.store.create_message(draft, state.settings.service_sender)
    record: RecordedRequest | None = request.scope.get(_RECORD)
    if record is not None:
        state.store.update_request(record, message_sid=message.sid)
    state.delivery.start(message)
    logger.info("%s accepted: to %s, %d segment(s)", message.sid, draft.to, message.num_segments)
    return JSONResponse(message.resource(), status_code=201)


async def fetch_message(request: Request) -> Response:
    _authenticate(request)
    state: SandboxState = request.app.state.sandbox
    message = state.store.get(request.path_params["sid"])
    if message is None:
        raise not_found(request.url.path)
    return JSONResponse(message.resource())


async def update_message(request: Request) -> Response:
    """Twilio's update: ``Status=canceled`` cancels a scheduled message, ``Body=`` redacts."""
    _authenticate(request)
    state: SandboxState = request.app.state.sandbox
    params = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    status = params.get("Status", [None])[-1]
    body = params.get("Body", [None])[-1]
    if status is not None and status != "canceled":
        raise TwilioError(400, 20001, f"Invalid Status {status!r}: only 'canceled' can be set")
    if body not in (None, ""):
        raise TwilioError(400, 20001, "Body can only be set to an empty string, to redact it")
    if status is None and body is None:
        raise TwilioError(400, 20001, "Nothing to update: give Status=canceled or Body=")
    message = state.store.update(
        request.path_params["sid"], cancel=status == "canceled", redact=body == ""
    )
    if message is None:
        raise not_found(request.url.path)
    if status == "canceled":
        state.delivery.canceled(message)
        logger.info("%s canceled", message.sid)
    return JSONResponse(message.resource())


async def list_messages(request: Request) -> Response:
    _authenticate(request)
    state: SandboxState = request.app.state.sandbox
    query = request.query_params
    sent = {key: parse_date_filter(query[key], key) for key in _DATE_FILTERS if key in query}
    filters = [(key, query[key]) for key in ("To", "From", *_DATE_FILTERS) if key in query]
    matching = [
        message
        for message in state.store.messages()
        if _matches(message, query.get("To"), query.get("From"), sent)
    ]
    page_size = _bounded_int(query.get("PageSize"), DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page = _bounded_int(query.get("Page"), 0, 0, 1_000_000)
    start = _page_start(matching, page, page_size, query.get("PageToken"))
    chunk = matching[start : start + page_size]
    path = request.url.path

    def page_uri(number: int, token: str | None = None) -> str:
        pairs = [*filters, ("PageSize", str(page_size)), ("Page", str(number))]
        if token is not None:
            pairs.append(("PageToken", token))
        return f"{path}?{urlencode(pairs)}"

    has_next = start + page_size < len(matching)
    return JSONResponse(
        {
            "messages": [message.resource() for message in chunk],
            "page": page,
            "page_size": page_size,
            "start": page * page_size,
            "end": page * page_size + max(len(chunk) - 1, 0),
            "uri": page_uri(page, query.get("PageToken")),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1, "PA" + chunk[-1].sid) if has_next else None,
            "previous_page_uri": (
                page_uri(page - 1, "PB" + chunk[0].sid) if page > 0 and chunk else None
            ),
        }
    )


def _matches(
    message: SandboxMessage,
    to: str | None,
    sender: str | None,
    sent: Mapping[str, dt.date | dt.datetime],
) -> bool:
    if (to is not None and message.draft.to != to) or (
        sender is not None and message.sender != sender
    ):
        return False
    if not sent:
        return True
    if message.date_sent is None:
        return False
    moment = message.date_sent
    # A day compares with the day sent, an instant with the instant; Twilio's
    # DateSent< and DateSent> are inclusive: "on or before", "on or after".
    exact = sent.get("DateSent")
    if exact is not None and _day(exact) != moment.date():
        return False
    before = sent.get("DateSent<")
    if before is not None and not _on_or_before(moment, before):
        return False
    after = sent.get("DateSent>")
    return after is None or _on_or_after(moment, after)


def _day(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _on_or_before(moment: dt.datetime, limit: dt.date | dt.datetime) -> bool:
    if isinstance(limit, dt.datetime):
        return moment <= limit
    return moment.date() <= limit


def _on_or_after(moment: dt.datetime, limit: dt.date | dt.datetime) -> bool:
    if isinstance(limit, dt.datetime):
        return moment >= limit
    return moment.date() >= limit


def _bounded_int(raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    try:
        return min(max(int(raw), low), high)
    except ValueError:
        raise TwilioError(400, 20001, f"Invalid paging value {raw!r}") from None


def _page_start(
    messages: Sequence[SandboxMessage], page: int, page_size: int, token: str | None
) -> int:
    # A token names the message next to the page, so pages stay stable while
    # new messages arrive at the front of the list.
    if token and token[:2] in ("PA", "PB"):
        sids = [message.sid for message in messages]
        if token[2:] in sids:
            position = sids.index(token[2:])
            return position + 1 if token.startswith("PA") else max(position - page_size, 0)
    return page * page_size


# -- the admin API and the inbox -------------------------------------------------------


async def inbox(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "inbox.html", headers={"Cache-Control": "no-cache"})


async def admin_info(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
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
    """Every message of every channel, newest first, as the inbox shows it."""
    state: SandboxState = request.app.state.sandbox
    return JSONResponse({"messages": state.store.inbox()})


async def admin_html(request: Request) -> Response:
    """An email's HTML part, for the inbox's sandboxed frame: no scripts, nothing remote."""
    state: SandboxState = request.app.state.sandbox
    message = state.store.outbox_message(request.path_params["id"])
    if message is None or message.html is None:
        return JSONResponse({"error": "no such email with an HTML part"}, status_code=404)
    return Response(
        message.html,
        media_type="text/html; charset=utf-8",
        headers={
            # Even opened on its own, the page gets a unique origin and runs nothing,
            # and may load only inline styles and data: images.
            "Content-Security-Policy": (
                "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
            ),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


async def admin_requests(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    return JSONResponse({"requests": [r.to_dict() for r in state.store.requests()]})


async def admin_reset(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    for plan in state.plans.values():
        plan.reset()
    state.limits.reset()
    state.store.reset()
    return Response(status_code=204)


async def admin_faults(request: Request) -> Response:
    """One API's fault plan (``?api=``, Twilio's by default; ``"api"`` in a POST):
    GET shows it, POST adds faults or sets a rate, DELETE clears it."""
    state: SandboxState = request.app.state.sandbox
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
    clock: SandboxClock = request.app.state.sandbox.store.clock
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
    store: Store = request.app.state.sandbox.store
    queue = store.watch()

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
            store.unwatch(queue)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# -- errors ------------------------------------------------------------------------


async def twilio_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TwilioError)
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(API_PREFIX):
        if exc.status_code == 405:
            error = TwilioError(405, 20004, "Method not allowed")
        else:
            error = not_found(request.url.path)
        return JSONResponse(error.body(), status_code=error.status)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


_MESSAGES = API_PREFIX + "{account_sid}/Messages"
TWILIO = EmulatedApi(
    name="twilio",
    prefixes=(API_PREFIX,),
    routes=[
        Route(_MESSAGES + ".json", create_message, methods=["POST"]),
        Route(_MESSAGES + ".json", list_messages, methods=["GET"]),
        Route(_MESSAGES + "/{sid}.json", fetch_message, methods=["GET"]),
        Route(_MESSAGES + "/{sid}.json", update_message, methods=["POST"]),
    ],
    fault_response=_twilio_fault_response,
    user=lambda headers, fields: None,  # Basic auth: the middleware reads the user name itself
)
APIS: tuple[EmulatedApi, ...] = (TWILIO, sendgrid.API, vonage.API, slack.API)


def create_app(state: SandboxState, smtp_socket: socket.socket | None = None) -> ASGIApp:
    """The sandbox as one ASGI app, ready for uvicorn; with ``smtp_socket``, the SMTP
    server listens there on the same event loop while the app runs."""

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
            await state.delivery.aclose()

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
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        exception_handlers={TwilioError: twilio_error, HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.state.smtp_address = None
    if smtp_socket is not None:
        host, port = smtp_socket.getsockname()[:2]
        app.state.smtp_address = f"{host}:{port}"
    return FaultsAndLog(app, state)
