"""Status queries: fetch one message, list with filters, follow next_page_uri lazily."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

import norq
from norq.providers.twilio.status import normalise_status, parse_date
from tests.twilio.conftest import (
    ACCOUNT_SID,
    API_KEY_SECRET,
    API_KEY_SID,
    MESSAGE_SID,
    MESSAGES_URL,
    RECIPIENT,
    SENDER,
    basic,
    document,
)

MakeNorq = Callable[..., norq.Norq]
MESSAGE_URL = MESSAGES_URL.removesuffix(".json") + f"/{MESSAGE_SID}.json"
LIST_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def resource(sid: str = MESSAGE_SID, status: str = "delivered", **extra: Any) -> dict[str, Any]:
    """A message resource shaped as Twilio returns it."""
    return {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "to": RECIPIENT,
        "from": SENDER,
        "body": "Your code is 428913",
        "status": status,
        "num_segments": "1",
        "error_code": None,
        "error_message": None,
        "date_created": "Wed, 18 Aug 2010 20:01:40 +0000",
        "date_sent": "Wed, 18 Aug 2010 20:01:41 +0000",
        "date_updated": "Wed, 18 Aug 2010 20:01:45 +0000",
        "price": "-0.00750",
        **extra,
    }


@respx.mock
def test_status_fetches_one_message_by_sid(make_norq: MakeNorq) -> None:
    route = respx.get(MESSAGE_URL).mock(return_value=httpx.Response(200, json=resource()))
    status = make_norq().status(MESSAGE_SID)
    sent = route.calls.last.request
    assert sent.headers["authorization"] == basic(API_KEY_SID, API_KEY_SECRET)
    assert sent.content == b""
    assert (status.message_id, status.status, status.provider_status) == (
        MESSAGE_SID,
        "delivered",
        "delivered",
    )
    assert (status.to, status.sender, status.segments) == (RECIPIENT, SENDER, 1)
    assert status.date_sent == dt.datetime(2010, 8, 18, 20, 1, 41, tzinfo=dt.UTC)
    assert status.raw["price"] == "-0.00750"


@respx.mock
def test_failed_message_keeps_twilio_error_code(make_norq: MakeNorq) -> None:
    body = resource(status="undelivered", error_code=30003, error_message="Unreachable handset")
    respx.get(MESSAGE_URL).mock(return_value=httpx.Response(200, json=body))
    status = make_norq().status(MESSAGE_SID)
    assert (status.status, status.error_code, status.error_message) == (
        "undelivered",
        "30003",
        "Unreachable handset",
    )


@respx.mock
def test_unknown_sid_raises_query_error_with_twilio_details(make_norq: MakeNorq) -> None:
    body = {"code": 20404, "message": "not found", "more_info": "https://x", "status": 404}
    respx.get(MESSAGE_URL).mock(return_value=httpx.Response(404, json=body))
    with pytest.raises(norq.QueryError) as caught:
        make_norq().status(MESSAGE_SID)
    assert caught.value.error is not None
    assert (caught.value.error.code, caught.value.error.provider_code) == ("not_found", "20404")


@respx.mock
@pytest.mark.parametrize("body", [[], {"status": "sent"}])
def test_unreadable_answer_is_a_query_error(make_norq: MakeNorq, body: object) -> None:
    respx.get(MESSAGE_URL).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(norq.QueryError) as caught:
        make_norq().status(MESSAGE_SID)
    assert caught.value.error is not None
    assert caught.value.error.code == "bad_response"


@respx.mock
def test_listing_without_messages_is_a_query_error(make_norq: MakeNorq) -> None:
    respx.get(MESSAGES_URL).mock(return_value=httpx.Response(200, json={"page": 0}))
    with pytest.raises(norq.QueryError, match="'messages' list"):
        list(make_norq().messages())


@pytest.mark.parametrize("sid", ["SM123", "../../Calls", "XX" + "a" * 32, "SM" + "g" * 32])
def test_malformed_sid_is_refused_before_any_request(make_norq: MakeNorq, sid: str) -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.get(url__regex=r".*")
        with pytest.raises(norq.MessageError, match="not a Twilio message SID"):
            make_norq().status(sid)
        assert not route.called


@respx.mock
def test_listing_follows_next_page_uri_lazily(make_norq: MakeNorq) -> None:
    second_path = f"{LIST_PATH}?To=%2B15558675310&PageSize=2&Page=1&PageToken=PA2"
    # The more specific route first: respx matches a path whatever its query.
    second = respx.get(f"https://api.twilio.com{second_path}").mock(
        return_value=httpx.Response(
            200,
            json={"messages": [resource("SM" + "3" * 32, "failed")], "next_page_uri": None},
        )
    )
    first = respx.get(MESSAGES_URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "messages": [resource("SM" + "1" * 32), resource("SM" + "2" * 32, "sent")],
                "next_page_uri": second_path,
                "page": 0,
                "page_size": 2,
            },
        )
    )
    items = make_norq().messages(norq.MessageQuery(to=RECIPIENT, page_size=2))
    assert next(items).message_id == "SM" + "1" * 32
    assert (first.call_count, second.call_count) == (1, 0)
    rest = list(items)
    assert [item.status for item in rest] == ["sent", "failed"]
    assert (first.call_count, second.call_count) == (1, 1)
    assert str(second.calls.last.request.url) == f"https://api.twilio.com{second_path}"


@respx.mock
def test_listing_maps_every_filter_to_twilio_parameters(make_norq: MakeNorq) -> None:
    route = respx.get(MESSAGES_URL).mock(
        return_value=httpx.Response(200, json={"messages": [], "next_page_uri": None})
    )
    query = norq.MessageQuery(
        to=RECIPIENT,
        sender=SENDER,
        sent_on=dt.date(2030, 1, 2),
        sent_before=dt.date(2030, 1, 31),
        sent_after=dt.date(2030, 1, 1),
        page_size=20,
    )
    assert list(make_norq().messages(query)) == []
    assert list(route.calls.last.request.url.params.multi_items()) == [
        ("To", RECIPIENT),
        ("From", SENDER),
        ("DateSent", "2030-01-02"),
        ("DateSent<", "2030-01-31"),
        ("DateSent>", "2030-01-01"),
        ("PageSize", "20"),
    ]


@respx.mock
def test_limit_stops_before_fetching_another_page(make_norq: MakeNorq) -> None:
    route = respx.get(MESSAGES_URL).mock(
        return_value=httpx.Response(
            200, json={"messages": [resource()], "next_page_uri": f"{LIST_PATH}?Page=1"}
        )
    )
    assert len(list(make_norq().messages(limit=1))) == 1
    assert route.call_count == 1


@respx.mock
def test_next_page_is_relative_to_the_configured_base_url(make_norq: MakeNorq) -> None:
    base = "http://127.0.0.1:8765"
    later = respx.get(f"{base}{LIST_PATH}?Page=1&PageToken=x").mock(
        return_value=httpx.Response(200, json={"messages": [], "next_page_uri": None})
    )
    respx.get(f"{base}{LIST_PATH}").mock(
        return_value=httpx.Response(
            200, json={"messages": [resource()], "next_page_uri": f"{LIST_PATH}?Page=1&PageToken=x"}
        )
    )
    assert len(list(make_norq(document(base_url=base)).messages())) == 1
    assert later.called


@pytest.mark.parametrize("size", [0, 1001])
def test_page_size_is_checked(make_norq: MakeNorq, size: int) -> None:
    with pytest.raises(norq.MessageError, match="between 1 and 1000"):
        make_norq().messages(norq.MessageQuery(page_size=size))


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("queued", "queued"),
        ("accepted", "queued"),
        ("scheduled", "scheduled"),
        ("sending", "sending"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
        ("receiving", "received"),
        ("received", "received"),
        ("read", "read"),
        ("canceled", "canceled"),
        ("Delivered", "delivered"),
        ("partially_delivered", "unknown"),
        (None, "unknown"),
    ],
)
def test_status_words(word: str | None, expected: str) -> None:
    assert normalise_status(word) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed, 18 Aug 2010 20:01:40 +0000", dt.datetime(2010, 8, 18, 20, 1, 40, tzinfo=dt.UTC)),
        (
            "Thu, 01 Jan 2030 09:00:00 +0100",
            dt.datetime(2030, 1, 1, 8, 0, tzinfo=dt.UTC),
        ),
        (None, None),
        ("", None),
        ("yesterday", None),
    ],
)
def test_rfc2822_dates(text: str | None, expected: dt.datetime | None) -> None:
    assert parse_date(text) == expected
