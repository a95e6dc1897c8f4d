"""The sandbox speaks Twilio's Messages API: create, validate, fetch, list."""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parsedate_to_datetime

import httpx
import pytest
from norq_sandbox import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, SandboxServer

from tests_sandbox.conftest import MESSAGES_PATH, RECIPIENT, VALID_FROM, send


def error_of(response: httpx.Response) -> tuple[int, int]:
    body = response.json()
    assert set(body) >= {"code", "message", "more_info", "status"}
    assert body["status"] == response.status_code
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
    return response.status_code, body["code"]


# -- create ---------------------------------------------------------------------------


def test_create_answers_201_with_a_twilio_message_resource(api: httpx.Client) -> None:
    response = send(api, Body="Your code is 123456")

    assert response.status_code == 201
    message = response.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", message["sid"])
    assert message["account_sid"] == DEFAULT_ACCOUNT_SID
    assert (message["to"], message["from"]) == (RECIPIENT, VALID_FROM)
    assert message["body"] == "Your code is 123456"
    assert message["status"] == "queued"
    assert message["num_segments"] == "1"
    assert message["num_media"] == "0"
    assert message["direction"] == "outbound-api"
    assert message["api_version"] == "2010-04-01"
    assert message["error_code"] is None
    assert message["uri"] == MESSAGES_PATH.replace(".json", f"/{message['sid']}.json")
    assert parsedate_to_datetime(message["date_created"]).tzinfo is not None


def test_a_long_body_counts_several_segments(api: httpx.Client) -> None:
    message = send(api, Body="x" * 400).json()

    assert int(message["num_segments"]) == 3


def test_the_auth_token_pair_is_accepted_too(sandbox: SandboxServer) -> None:
    with httpx.Client(base_url=sandbox.url, auth=(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)) as api:
        assert send(api).status_code == 201


@pytest.mark.parametrize(
    "auth",
    [
        ("SK22222222222222222222222222222222", "wrong-secret"),
        (DEFAULT_ACCOUNT_SID, "wrong-token"),
        ("ACnobody", DEFAULT_AUTH_TOKEN),
        None,
    ],
)
def test_wrong_credentials_answer_401_with_error_20003(
    sandbox: SandboxServer, auth: tuple[str, str] | None
) -> None:
    with httpx.Client(base_url=sandbox.url, auth=auth) as api:
        response = send(api)

    assert error_of(response) == (401, 20003)
    assert response.headers["www-authenticate"].startswith("Basic")
    assert sandbox.messages() == []


def test_another_accounts_path_is_refused(api: httpx.Client, sandbox: SandboxServer) -> None:
    other = MESSAGES_PATH.replace(DEFAULT_ACCOUNT_SID, "AC" + "9" * 32)
    response = api.post(other, data={"To": RECIPIENT, "From": VALID_FROM, "Body": "hi"})

    assert error_of(response) == (401, 20003)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"To": None}, 21604),
        ({"From": None}, 21603),
        ({"Body": None}, 21602),
        ({"Body": "x" * 1601}, 21617),
        ({"To": "0044 7700 900123"}, 21211),
        ({"From": "not a number!"}, 21212),
        ({"ValidityPeriod": "0"}, 90007),
        ({"ValidityPeriod": "14401"}, 90007),
        ({"ValidityPeriod": "soon"}, 90007),
        ({"From": None, "MessagingServiceSid": "MG123"}, 21701),
        ({"StatusCallback": "not-a-url"}, 21609),
        # Twilio rejects a callback hostname containing '_' (error 21609's causes).
        ({"StatusCallback": "https://my_hooks.example.com/twilio"}, 21609),
        # 21620: a media URL without an http:// or https:// protocol.
        ({"MediaUrl": "notaurl"}, 21620),
        ({"MediaUrl": "ftp://example.com/a.png"}, 21620),
        # 21266: 'To' and 'From' cannot be the same.
        ({"To": VALID_FROM}, 21266),
        # MaxPrice is a decimal amount of US dollars.
        ({"MaxPrice": "cheap"}, 20001),
        ({"MaxPrice": "-1"}, 20001),
        ({"ProvideFeedback": "maybe"}, 20001),
    ],
)
def test_invalid_requests_are_refused_like_twilio(
    api: httpx.Client, sandbox: SandboxServer, params: dict[str, str | None], code: int
) -> None:
    response = send(api, **params)

    assert error_of(response) == (400, code)
    assert sandbox.messages() == []


@pytest.mark.parametrize(
    "params",
    [
        {"Body": "x" * 1600},
        {"ValidityPeriod": "14400"},
        {"MaxPrice": "0.0500"},
        {"ProvideFeedback": "true"},
        {"StatusCallback": "https://hooks-1.example.com/twilio?a=1"},
    ],
)
def test_limits_are_inclusive(api: httpx.Client, params: dict[str, str]) -> None:
    assert send(api, **params).status_code == 201


@pytest.mark.parametrize(
    ("to", "code"),
    [
        ("+15005550001", 21211),
        ("+15005550002", 21612),
        ("+15005550003", 21408),
        ("+15005550004", 21610),
        ("+15005550009", 21614),
    ],
)
def test_magic_recipient_numbers_fail_as_twilio_documents(
    api: httpx.Client, to: str, code: int
) -> None:
    assert error_of(send(api, To=to)) == (400, code)


@pytest.mark.parametrize(
    ("sender", "code"),
    [("+15005550001", 21212), ("+15005550007", 21606), ("+15005550008", 21611)],
)
def test_magic_sender_numbers_fail_as_twilio_documents(
    api: httpx.Client, sender: str, code: int
) -> None:
    assert error_of(send(api, From=sender)) == (400, code)


def test_a_messaging_service_message_starts_accepted(api: httpx.Client) -> None:
    service = "MG" + "a" * 32
    message = send(api, From=None, MessagingServiceSid=service).json()

    assert message["status"] == "accepted"
    assert message["messaging_service_sid"] == service
    assert message["from"] is None


def test_eleven_media_urls_answer_21623(api: httpx.Client, sandbox: SandboxServer) -> None:
    urls = [f"https://example.com/{n}.png" for n in range(11)]

    response = api.post(MESSAGES_PATH, data={"To": RECIPIENT, "From": VALID_FROM, "MediaUrl": urls})

    assert error_of(response) == (400, 21623)
    assert sandbox.messages() == []


def test_ten_media_urls_are_accepted_and_the_sid_starts_mm(api: httpx.Client) -> None:
    urls = [f"https://example.com/{n}.png" for n in range(10)]

    response = api.post(MESSAGES_PATH, data={"To": RECIPIENT, "From": VALID_FROM, "MediaUrl": urls})

    assert response.status_code == 201
    assert re.fullmatch(r"MM[0-9a-f]{32}", response.json()["sid"])


@pytest.mark.parametrize("sender", ["12345", "898211", "Norq", "ACME Alerts"])
def test_short_codes_and_alphanumeric_senders_are_accepted(api: httpx.Client, sender: str) -> None:
    response = send(api, From=sender)

    assert response.status_code == 201
    assert response.json()["from"] == sender


@pytest.mark.parametrize("sender", ["12", "123456789", "TwelveChars1", "1234 56"])
def test_senders_that_are_neither_short_code_nor_alphanumeric_answer_21212(
    api: httpx.Client, sender: str
) -> None:
    assert error_of(send(api, From=sender)) == (400, 21212)


def test_a_messaging_service_picks_the_sender_once_the_message_is_queued(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sid = send(api, From=None, MessagingServiceSid="MG" + "a" * 32).json()["sid"]
    sandbox.wait_for_status(sid, "delivered")

    fetched = api.get(MESSAGES_PATH.replace(".json", f"/{sid}.json")).json()

    assert fetched["from"] == VALID_FROM


def test_media_urls_are_counted(api: httpx.Client) -> None:
    response = api.post(
        MESSAGES_PATH,
        data={
            "To": RECIPIENT,
            "From": VALID_FROM,
            "MediaUrl": ["https://example.com/a.png", "https://example.com/b.png"],
        },
    )

    assert response.status_code == 201
    assert response.json()["num_media"] == "2"


# -- fetch ---------------------------------------------------------------------------


def test_fetch_returns_the_message_with_its_current_status(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sid = send(api).json()["sid"]
    sandbox.wait_for_status(sid, "delivered")

    response = api.get(MESSAGES_PATH.replace(".json", f"/{sid}.json"))

    assert response.status_code == 200
    message = response.json()
    assert (message["sid"], message["status"]) == (sid, "delivered")
    assert message["date_sent"] is not None


def test_fetching_an_unknown_message_answers_20404(api: httpx.Client) -> None:
    response = api.get(MESSAGES_PATH.replace(".json", f"/SM{'0' * 32}.json"))

    assert error_of(response) == (404, 20404)


def test_fetch_checks_credentials(sandbox: SandboxServer, api: httpx.Client) -> None:
    sid = send(api).json()["sid"]
    with httpx.Client(base_url=sandbox.url) as anonymous:
        response = anonymous.get(MESSAGES_PATH.replace(".json", f"/{sid}.json"))

    assert error_of(response) == (401, 20003)


# -- list ----------------------------------------------------------------------------


def test_list_is_newest_first_with_twilio_paging_fields(api: httpx.Client) -> None:
    sids = [send(api, Body=f"message {n}").json()["sid"] for n in range(3)]

    page = api.get(MESSAGES_PATH).json()

    assert [m["sid"] for m in page["messages"]] == sids[::-1]
    assert page["page"] == 0
    assert page["page_size"] == 50
    assert page["start"] == 0
    assert page["end"] == 2
    assert page["next_page_uri"] is None
    assert page["previous_page_uri"] is None
    assert page["first_page_uri"].startswith(MESSAGES_PATH + "?")
    assert page["uri"].startswith(MESSAGES_PATH + "?")


def test_list_pages_follow_next_and_previous_page_uris(api: httpx.Client) -> None:
    sids = [send(api, Body=f"message {n}").json()["sid"] for n in range(5)]
    newest_first = sids[::-1]

    first = api.get(MESSAGES_PATH, params={"PageSize": 2}).json()
    second = api.get(first["next_page_uri"]).json()
    third = api.get(second["next_page_uri"]).json()
    back = api.get(third["previous_page_uri"]).json()

    assert [m["sid"] for m in first["messages"]] == newest_first[:2]
    assert [m["sid"] for m in second["messages"]] == newest_first[2:4]
    assert [m["sid"] for m in third["messages"]] == newest_first[4:]
    assert (second["page"], third["page"]) == (1, 2)
    assert third["next_page_uri"] is None
    assert [m["sid"] for m in back["messages"]] == newest_first[2:4]


def test_pages_stay_stable_when_new_messages_arrive(api: httpx.Client) -> None:
    sids = [send(api, Body=f"message {n}").json()["sid"] for n in range(4)]
    first = api.get(MESSAGES_PATH, params={"PageSize": 2}).json()
    send(api, Body="a newer message")

    second = api.get(first["next_page_uri"]).json()

    assert [m["sid"] for m in second["messages"]] == sids[1::-1]


def test_list_filters_by_to_and_from(api: httpx.Client) -> None:
    send(api, To="+15550000001")
    wanted = send(api, To="+15550000002", From="+15550009999").json()["sid"]
    send(api, To="+15550000002")

    by_to = api.get(MESSAGES_PATH, params={"To": "+15550000002"}).json()
    by_both = api.get(MESSAGES_PATH, params={"To": "+15550000002", "From": "+15550009999"}).json()

    assert len(by_to["messages"]) == 2
    assert [m["sid"] for m in by_both["messages"]] == [wanted]
    assert "To=%2B15550000002" in by_both["uri"]


def test_list_filters_by_date_sent(api: httpx.Client, sandbox: SandboxServer) -> None:
    sid = send(api).json()["sid"]
    message = sandbox.wait_for_status(sid, "delivered")
    assert message.date_sent is not None
    today = message.date_sent.date().isoformat()

    def listed(**params: str) -> list[str]:
        return [m["sid"] for m in api.get(MESSAGES_PATH, params=params).json()["messages"]]

    assert listed(DateSent=today) == [sid]
    assert listed(**{"DateSent<": today}) == [sid]
    assert listed(**{"DateSent>": today}) == [sid]
    assert listed(DateSent="2001-01-01") == []
    assert listed(**{"DateSent<": "2001-01-01"}) == []
    assert listed(**{"DateSent>": "2999-01-01"}) == []


@pytest.mark.parametrize(
    "written",
    [
        "{day:%Y-%m-%d}",
        "{day:%Y-%m-%d}T12:00:00Z",
        "{day:%a, %d %b %Y} 12:00:00 -0000",
        "{day:%m/%d/%Y} 05:00:00 MST",
    ],
)
def test_date_filters_take_every_format_twilio_documents(
    api: httpx.Client, sandbox: SandboxServer, written: str
) -> None:
    # Twilio's list examples write DateSent as 2019-06-11, "Wed, 19 Jun 2019
    # 22:04:00 -0000" and "06/11/2019 22:05:25 MST"; twilio-python sends ISO 8601.
    sid = send(api).json()["sid"]
    sent = sandbox.wait_for_status(sid, "delivered").date_sent
    assert sent is not None
    day = sent.date()

    def listed(name: str, value: dt.date) -> list[str]:
        query = {name: written.format(day=value)}
        return [m["sid"] for m in api.get(MESSAGES_PATH, params=query).json()["messages"]]

    assert listed("DateSent", day) == [sid]
    assert listed("DateSent", day - dt.timedelta(days=1)) == []
    assert listed("DateSent>", day - dt.timedelta(days=1)) == [sid]
    assert listed("DateSent<", day + dt.timedelta(days=1)) == [sid]
    assert listed("DateSent>", day + dt.timedelta(days=1)) == []


def test_an_instant_filter_names_its_gmt_day(api: httpx.Client, sandbox: SandboxServer) -> None:
    # Twilio's filters take GMT dates: twilio-python sends date_sent_before=date(...)
    # as midnight, T00:00:00Z, and "on and before" that date includes the whole day.
    sid = send(api).json()["sid"]
    sent = sandbox.wait_for_status(sid, "delivered").date_sent
    assert sent is not None
    midnight = dt.datetime.combine(sent.date(), dt.time(), dt.UTC)
    day = dt.timedelta(days=1)

    def listed(name: str, moment: dt.datetime) -> list[str]:
        query = {name: moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return [m["sid"] for m in api.get(MESSAGES_PATH, params=query).json()["messages"]]

    assert listed("DateSent<", midnight) == [sid]
    assert listed("DateSent>", midnight + day - dt.timedelta(seconds=1)) == [sid]
    assert listed("DateSent", midnight) == [sid]
    assert listed("DateSent<", midnight - day) == []
    assert listed("DateSent>", midnight + day) == []


@pytest.mark.parametrize("written", ["yesterday", "2019-13-01", "06/11/2019 22:05:25 XYZ"])
def test_a_malformed_date_filter_is_a_400(api: httpx.Client, written: str) -> None:
    response = api.get(MESSAGES_PATH, params={"DateSent": written})

    assert error_of(response) == (400, 20001)
    assert "YYYY-MM-DD" in response.json()["message"]


def test_page_size_is_capped_at_1000(api: httpx.Client) -> None:
    page = api.get(MESSAGES_PATH, params={"PageSize": 5000}).json()

    assert page["page_size"] == 1000


def test_unknown_api_paths_answer_in_twilio_shape(api: httpx.Client) -> None:
    response = api.get("/2010-04-01/Accounts/AC1/Calls.json")

    assert error_of(response) == (404, 20404)
