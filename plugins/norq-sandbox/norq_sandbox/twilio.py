"""Twilio's Messages API: create, fetch, update (cancel, redact) and list messages.

Requests authenticate with HTTP Basic, ``AccountSid:AuthToken`` or
``ApiKeySid:ApiKeySecret``; errors have Twilio's shape (``code``,
``message``, ``more_info``, ``status``). What a request must look like, the
test numbers and the message resource are in
:mod:`norq_sandbox.twilio_resources`; each accepted message starts its
status journey (:mod:`norq_sandbox.journeys`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from norq_sandbox.emulated import EmulatedApi, basic_credentials, note_created
from norq_sandbox.faults import Fault
from norq_sandbox.state import state_of
from norq_sandbox.twilio_resources import (
    API_PREFIX,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    SandboxMessage,
    TwilioError,
    authentication_failed,
    not_found,
    parse_date_filter,
    validate_create,
)

_DATE_FILTERS = ("DateSent", "DateSent<", "DateSent>")


def fault_response(fault: Fault, path: str) -> Response:
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


def _authenticate(request: Request) -> None:
    settings = state_of(request).settings
    credentials = basic_credentials(request.headers)
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
    state = state_of(request)
    params = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    draft = validate_create(params, state.records.clock.now())
    message = state.records.create_message(draft, state.settings.service_sender)
    note_created(request, message.sid)
    state.journeys.start(message)
    return JSONResponse(message.resource(), status_code=201)


async def fetch_message(request: Request) -> Response:
    _authenticate(request)
    state = state_of(request)
    message = state.records.get(request.path_params["sid"])
    if message is None:
        raise not_found(request.url.path)
    return JSONResponse(message.resource())


async def update_message(request: Request) -> Response:
    """Twilio's update: ``Status=canceled`` cancels a scheduled message, ``Body=`` redacts."""
    _authenticate(request)
    state = state_of(request)
    params = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    status = params.get("Status", [None])[-1]
    body = params.get("Body", [None])[-1]
    if status is not None and status != "canceled":
        raise TwilioError(400, 20001, f"Invalid Status {status!r}: only 'canceled' can be set")
    if body not in (None, ""):
        raise TwilioError(400, 20001, "Body can only be set to an empty string, to redact it")
    if status is None and body is None:
        raise TwilioError(400, 20001, "Nothing to update: give Status=canceled or Body=")
    message = state.records.update(
        request.path_params["sid"], cancel=status == "canceled", redact=body == ""
    )
    if message is None:
        raise not_found(request.url.path)
    if status == "canceled":
        state.journeys.canceled(message)
    return JSONResponse(message.resource())


async def list_messages(request: Request) -> Response:
    _authenticate(request)
    state = state_of(request)
    query = request.query_params
    sent = {key: parse_date_filter(query[key], key) for key in _DATE_FILTERS if key in query}
    filters = [(key, query[key]) for key in ("To", "From", *_DATE_FILTERS) if key in query]
    matching = [
        message
        for message in state.records.messages()
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
    # Twilio's filters take GMT dates ("on and before", "on and after" for < and >);
    # a time of day, such as twilio-python's T00:00:00Z for a date, names its day.
    day = message.date_sent.date()
    exact, before, after = (sent.get(name) for name in _DATE_FILTERS)
    return (
        (exact is None or _day(exact) == day)
        and (before is None or day <= _day(before))
        and (after is None or day >= _day(after))
    )


def _day(value: dt.date | dt.datetime) -> dt.date:
    """The GMT date of a filter value (parse_date_filter gives instants in UTC)."""
    return value.date() if isinstance(value, dt.datetime) else value


def _bounded_int(raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if not re.fullmatch(r"-?[0-9]{1,9}", raw):
        raise TwilioError(400, 20001, f"Invalid paging value {raw!r}")
    return min(max(int(raw), low), high)


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


async def _twilio_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TwilioError)
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 405:
        error = TwilioError(405, 20004, "Method not allowed")
    else:
        error = not_found(request.url.path)
    return JSONResponse(error.body(), status_code=error.status)


def _user(headers: Mapping[str, str], fields: Mapping[str, Any]) -> str | None:
    credentials = basic_credentials(headers)
    return None if credentials is None else credentials[0]


_MESSAGES = API_PREFIX + "{account_sid}/Messages"
API = EmulatedApi(
    name="twilio",
    prefixes=(API_PREFIX,),
    routes=[
        Route(_MESSAGES + ".json", create_message, methods=["POST"]),
        Route(_MESSAGES + ".json", list_messages, methods=["GET"]),
        Route(_MESSAGES + "/{sid}.json", fetch_message, methods=["GET"]),
        Route(_MESSAGES + "/{sid}.json", update_message, methods=["POST"]),
    ],
    fault_response=fault_response,
    user=_user,
    exception_handlers={TwilioError: _twilio_error},
    http_error=_http_error,
    # Twilio's account limits hold for its API only, as they do at Twilio.
    account_limits=True,
)
