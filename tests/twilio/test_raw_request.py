"""Raw requests reach any endpoint of Twilio's API with the instance's base URL and credentials."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

import norq
from norq import MessageError, UnsupportedOperation
from norq.plugins import get_plugin_manager
from norq.raw import prepare_raw
from tests.twilio.conftest import (
    ACCOUNT_SID,
    API_KEY_SECRET,
    API_KEY_SID,
    API_ROOT,
    MESSAGE_SID,
    basic,
    document,
    form_of,
)

MakeNorq = Callable[..., norq.Norq]
MESSAGE_URL = f"{API_ROOT}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}.json"


@respx.mock
def test_a_get_sends_params_in_the_query_with_the_instances_credentials(
    make_norq: MakeNorq,
) -> None:
    route = respx.get(f"{API_ROOT}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json").mock(
        return_value=httpx.Response(200, json={"messages": []})
    )

    answer = make_norq().raw_request(
        "twilio", "get", "/2010-04-01/Accounts/{AccountSid}/Messages.json", {"PageSize": "5"}
    )

    request = route.calls.last.request
    assert request.url.params["PageSize"] == "5"
    assert request.headers["authorization"] == basic(API_KEY_SID, API_KEY_SECRET)
    assert request.content == b""
    assert (answer.ok, answer.status_code, answer.data) == (True, 200, {"messages": []})
    assert answer.method == "GET"
    assert answer.url.endswith("/Messages.json?PageSize=5")


@respx.mock
def test_a_post_sends_a_form_and_keeps_repeated_keys(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGE_URL).mock(
        return_value=httpx.Response(200, json={"sid": MESSAGE_SID, "status": "canceled"})
    )

    answer = make_norq().raw_request(
        "twilio",
        "POST",
        f"/2010-04-01/Accounts/{{AccountSid}}/Messages/{MESSAGE_SID}.json",
        [("Status", "canceled"), ("Tag", "a"), ("Tag", "b")],
    )

    assert form_of(route.calls.last.request) == [("Status", "canceled"), ("Tag", "a"), ("Tag", "b")]
    assert answer.data["status"] == "canceled"


@respx.mock
def test_an_error_answer_is_returned_read_as_twilio_errors(make_norq: MakeNorq) -> None:
    respx.post(MESSAGE_URL).mock(
        return_value=httpx.Response(
            400, json={"code": 30409, "message": "This message cannot be canceled", "status": 400}
        )
    )

    answer = make_norq().raw_request(
        "twilio", "POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}.json"
    )

    assert not answer.ok
    assert answer.status_code == 400
    assert answer.error is not None
    assert answer.error.provider_code == "30409"
    assert answer.data["code"] == 30409


@respx.mock
def test_the_base_url_of_the_instance_is_used(make_norq: MakeNorq) -> None:
    route = respx.get("http://127.0.0.1:9/2010-04-01/Accounts.json").mock(
        return_value=httpx.Response(200, json={})
    )

    make_norq(document(base_url="http://127.0.0.1:9")).raw_request(
        "twilio", "GET", "/2010-04-01/Accounts.json"
    )

    assert route.called


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("TRACE", "/x.json", "method 'TRACE'"),
        ("GET", "2010-04-01/x.json", "must start with '/'"),
        ("GET", "/x.json?PageSize=5", "no query"),
        ("GET", "/x.json#top", "no query, fragment"),
        ("GET", "/a/../b.json", "'..'"),
        ("GET", "/a/%2e%2e/b.json", "'..'"),
        ("GET", "/a/%2E%2e/b.json", "'..'"),
        ("GET", "/a/.%2e/b.json", "'..'"),
        ("GET", "/a/%2e./b.json", "'..'"),
        ("GET", "/a/%252e%252e/b.json", "'..'"),
        ("GET", "/a/..%2fb.json", "'..'"),
        ("GET", "/a/..%5cb.json", "'..'"),
        ("GET", "/a/..;x/b.json", "'..'"),
        ("GET", "/a/%c0%ae%c0%ae/b.json", "not UTF-8"),
        ("GET", "/a/%2f%2fevil.example/x", "'//'"),
        ("GET", "//evil.example/x", "'//'"),
        ("GET", "/x y.json", "must start with '/'"),
        ("GET", "/Accounts/{Account}/x.json", "{AccountSid}"),
    ],
)
@respx.mock(assert_all_mocked=True)
def test_malformed_requests_are_refused_before_sending(
    make_norq: MakeNorq, method: str, path: str, message: str
) -> None:
    # With every route unmocked, any request that went out would fail the test.
    with pytest.raises(MessageError) as refused:
        make_norq().raw_request("twilio", method, path)

    assert message in str(refused.value)
    assert not respx.calls


def test_an_unknown_provider_is_refused(make_norq: MakeNorq) -> None:
    with pytest.raises(MessageError, match="unknown provider 'sendgrid'; configured providers"):
        make_norq().raw_request("sendgrid", "GET", "/")


def test_a_provider_without_an_api_base_takes_no_raw_requests(make_norq: MakeNorq) -> None:
    app = make_norq({"providers": {"console": {}}, "routing": {"sms": "console"}})

    with pytest.raises(UnsupportedOperation, match="declares no API base URL"):
        app.raw_request("console", "GET", "/")


PROVIDER = norq.Norq.from_dict(
    document(), environ={}, plugin_manager=get_plugin_manager(load_entry_points=False)
).providers["twilio"]
URL_CHARACTERS = "/.{}@:?#%\\ AccountSid-_~2eEfF5c;"


@given(st.one_of(st.text(max_size=40), st.text(alphabet=URL_CHARACTERS, max_size=40)))
def test_no_path_leaves_the_providers_host(path: str) -> None:
    provider = PROVIDER
    try:
        request = prepare_raw(provider, "GET", path)
    except MessageError:
        return
    parts = urlsplit(request.url)
    assert (parts.scheme, parts.netloc) == ("https", "api.twilio.com")
    assert request.url == API_ROOT + path.replace("{AccountSid}", ACCOUNT_SID)
    assert ".." not in parts.path.split("/")
    decoded = parts.path
    for _ in range(3):
        decoded = unquote(decoded)
    assert ".." not in re.split(r"[/\\;]", decoded)


def test_the_api_base_does_not_show_its_credentials() -> None:
    base = PROVIDER.api_base()

    assert base is not None
    assert API_KEY_SECRET not in repr(base)
    assert API_KEY_SECRET not in repr(base.auth)


@respx.mock
def test_a_raw_request_spends_the_instances_request_rate(
    make_norq: MakeNorq, monkeypatch: pytest.MonkeyPatch
) -> None:
    respx.get(f"{API_ROOT}/2010-04-01/Accounts.json").mock(return_value=httpx.Response(200))
    doc = document()
    doc["providers"]["twilio"]["rate_limits"] = {"requests_per_second": 5, "sender_per_second": 1}
    app = make_norq(doc)
    throttles = []
    send = app.executor.send

    def recording_send(request: object, **kwargs: object) -> object:
        throttles.append(kwargs.get("throttle"))
        return send(request, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(app.executor, "send", recording_send)

    app.raw_request("twilio", "GET", "/2010-04-01/Accounts.json")

    (throttle,) = throttles
    assert throttle is not None
    assert throttle.limits.requests_per_second == 5
    assert throttle.limits.sender_per_second is None  # a raw call sends no message
