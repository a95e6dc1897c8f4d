"""The sandbox speaks Vonage's SMS API as Vonage documents it, over real loopback."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from norq_sandbox import SandboxServer
from norq_sandbox.settings import DEFAULT_VONAGE_API_KEY, DEFAULT_VONAGE_API_SECRET

PATH = "/sms/json"


def sms(**changes: Any) -> dict[str, Any]:
    """Valid SMS API fields; a change of None removes the field."""
    fields: dict[str, Any] = {
        "api_key": DEFAULT_VONAGE_API_KEY,
        "api_secret": DEFAULT_VONAGE_API_SECRET,
        "from": "Norq",
        "to": "447700900000",
        "text": "Your code is 428913",
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def only_message(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200
    body = response.json()
    assert body["message-count"] == "1"
    (message,) = body["messages"]
    assert isinstance(message, dict)
    return message


@pytest.mark.parametrize("encoding", ["form", "json"])
def test_an_accepted_sms_is_status_0_with_a_message_id(
    sandbox: SandboxServer, encoding: str
) -> None:
    if encoding == "form":
        response = httpx.post(sandbox.url + PATH, data=sms())
    else:
        response = httpx.post(sandbox.url + PATH, json=sms())

    message = only_message(response)
    assert message["status"] == "0"
    assert message["to"] == "447700900000"
    assert re.fullmatch(r"[0-9A-F]{16}", message["message-id"])
    assert set(message) >= {"remaining-balance", "message-price"}
    assert "error-text" not in message
    (stored,) = sandbox.outbox("vonage")
    assert (stored.channel, stored.sender, stored.to) == ("sms", "Norq", ("447700900000",))
    assert stored.provider_id == message["message-id"]


def test_a_long_text_is_answered_per_part(sandbox: SandboxServer) -> None:
    response = httpx.post(sandbox.url + PATH, data=sms(text="x" * 400))

    body = response.json()
    assert body["message-count"] == "3"
    assert [m["status"] for m in body["messages"]] == ["0", "0", "0"]
    assert len({m["message-id"] for m in body["messages"]}) == 3


def test_client_ref_is_echoed(sandbox: SandboxServer) -> None:
    message = only_message(httpx.post(sandbox.url + PATH, data=sms(**{"client-ref": "order-7"})))

    assert message["client-ref"] == "order-7"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"api_key": None}, "2"),
        ({"api_secret": None}, "2"),
        ({"api_secret": "wrong"}, "4"),
        ({"api_key": "someoneelse"}, "4"),
        ({"to": None}, "2"),
        ({"from": None}, "2"),
        ({"text": None}, "2"),
        ({"to": "+447700900000"}, "3"),
        ({"to": "12"}, "3"),
        ({"type": "binary"}, "3"),
        ({"from": "Sender name too long"}, "15"),
        ({"callback": "not a url"}, "23"),
    ],
)
def test_failures_are_answered_200_with_a_status_and_error_text(
    sandbox: SandboxServer, changes: dict[str, Any], status: str
) -> None:
    message = only_message(httpx.post(sandbox.url + PATH, data=sms(**changes)))

    assert message["status"] == status
    assert message["error-text"]
    assert sandbox.outbox() == []


def test_a_rate_limit_is_throttled_status_1_inside_a_200(sandbox: SandboxServer) -> None:
    sandbox.faults_for("vonage").add("429")

    message = only_message(httpx.post(sandbox.url + PATH, data=sms()))

    assert (message["status"], message["error-text"]) == ("1", "Throttled")
    assert sandbox.outbox() == []


def test_a_body_error_is_an_internal_error_inside_a_200(sandbox: SandboxServer) -> None:
    sandbox.faults_for("vonage").add("body-error")

    message = only_message(httpx.post(sandbox.url + PATH, data=sms()))

    assert (message["status"], message["error-text"]) == ("5", "Internal Error")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_real_http_errors(sandbox: SandboxServer, status: int) -> None:
    sandbox.faults_for("vonage").add(str(status))

    assert httpx.post(sandbox.url + PATH, data=sms()).status_code == status
    assert sandbox.outbox() == []


def test_accept_drop_keeps_the_sms_but_loses_the_answer(sandbox: SandboxServer) -> None:
    sandbox.faults_for("vonage").add("accept-drop")

    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(sandbox.url + PATH, data=sms())

    assert len(sandbox.outbox("vonage")) == 1


def test_the_request_log_masks_the_api_secret(sandbox: SandboxServer) -> None:
    httpx.post(sandbox.url + PATH, data=sms())
    httpx.post(sandbox.url + PATH, json=sms())

    log = httpx.get(sandbox.url + "/_sandbox/requests").text
    assert DEFAULT_VONAGE_API_SECRET not in log
    form, document = sandbox.requests_to("vonage")
    assert form.username == document.username == DEFAULT_VONAGE_API_KEY
    assert form.params["api_secret"] == ["********"]
    assert document.body_json["api_secret"] == "********"


def test_http_basic_credentials_are_accepted_as_vonages_v4_sdk_sends_them(
    sandbox: SandboxServer,
) -> None:
    auth = (DEFAULT_VONAGE_API_KEY, DEFAULT_VONAGE_API_SECRET)
    response = httpx.post(sandbox.url + PATH, data=sms(api_key=None, api_secret=None), auth=auth)

    assert only_message(response)["status"] == "0"
    (logged,) = sandbox.requests_to("vonage")
    assert logged.username == DEFAULT_VONAGE_API_KEY


def test_wrong_basic_credentials_are_bad_credentials(sandbox: SandboxServer) -> None:
    auth = (DEFAULT_VONAGE_API_KEY, "not-the-secret")
    response = httpx.post(sandbox.url + PATH, data=sms(api_key=None, api_secret=None), auth=auth)

    assert only_message(response) == {"status": "4", "error-text": "Bad Credentials"}


@pytest.mark.parametrize(
    ("kind", "text", "parts"),
    [
        ("unicode", "x" * 100, 2),  # UCS-2 even for ASCII: 70 a part, 67 once split
        ("text", "ж" * 100, 1),  # GSM-7 as asked: 160 a part
        ("text", "x" * 161, 2),
        ("unicode", "ж" * 70, 1),
    ],
)
def test_parts_are_counted_in_the_encoding_the_type_asks_for(
    sandbox: SandboxServer, kind: str, text: str, parts: int
) -> None:
    response = httpx.post(sandbox.url + PATH, data=sms(type=kind, text=text))

    assert response.json()["message-count"] == str(parts)
    assert len(response.json()["messages"]) == parts


def test_each_accepted_part_names_the_recipients_network(sandbox: SandboxServer) -> None:
    response = httpx.post(sandbox.url + PATH, data=sms(text="x" * 200))

    assert [part["network"] for part in response.json()["messages"]] == ["00101", "00101"]
