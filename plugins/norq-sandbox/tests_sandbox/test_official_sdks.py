"""Each provider's official SDK against the sandbox: sends, refusals and injected faults.

twilio, sendgrid, vonage (v4) and slack_sdk are what applications use; the
sandbox must accept every credential form they send and answer in shapes
they parse, errors and faults included. An SDK that crashes on an answer
(rather than raising its own error type) is a sandbox bug.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from norq_sandbox import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_API_KEY_SECRET,
    DEFAULT_API_KEY_SID,
    SandboxServer,
)
from norq_sandbox.settings import (
    DEFAULT_SENDGRID_API_KEY,
    DEFAULT_SLACK_TOKEN,
    DEFAULT_VONAGE_API_KEY,
    DEFAULT_VONAGE_API_SECRET,
    DEFAULT_VONAGE_SIGNATURE_SECRET,
)
from python_http_client import exceptions as sendgrid_errors
from requests.adapters import HTTPAdapter
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client as TwilioClient
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import HttpRequestError, ServerError
from vonage_sms import SmsMessage
from vonage_sms.errors import SmsError

pytestmark = pytest.mark.e2e

RECIPIENT = "+15558675310"


# -- Twilio ----------------------------------------------------------------------------


@pytest.fixture
def twilio(sandbox: SandboxServer) -> TwilioClient:
    client = TwilioClient(DEFAULT_API_KEY_SID, DEFAULT_API_KEY_SECRET, DEFAULT_ACCOUNT_SID)
    client.api.base_url = sandbox.url
    return client


def test_twilio_sends_fetches_and_lists(twilio: TwilioClient, sandbox: SandboxServer) -> None:
    sent = twilio.messages.create(to=RECIPIENT, from_="+15005550006", body="Hello")

    assert sent.sid.startswith("SM")
    assert sent.status == "queued"
    assert sent.num_segments == "1"
    assert sent.date_created is not None
    delivered = sandbox.wait_for_status(sent.sid, "delivered")
    fetched = twilio.messages(sent.sid).fetch()
    assert fetched.status == "delivered"
    assert fetched.date_sent is not None
    # twilio-python sends a date as midnight: "on and before" that day finds it.
    assert delivered.date_sent is not None
    day = delivered.date_sent.date()
    assert [m.sid for m in twilio.messages.list(date_sent_before=day)] == [sent.sid]
    assert [m.sid for m in twilio.messages.list(date_sent_after=day)] == [sent.sid]
    assert twilio.messages.list(date_sent_before=day - dt.timedelta(days=1)) == []


def test_twilio_reads_a_refusal_as_a_rest_exception(twilio: TwilioClient) -> None:
    with pytest.raises(TwilioRestException) as refused:
        twilio.messages.create(to="+15005550001", from_="+15005550006", body="x")

    assert (refused.value.status, refused.value.code) == (400, 21211)
    assert "Invalid 'To' Phone Number" in refused.value.msg


def test_twilio_reads_wrong_credentials(sandbox: SandboxServer) -> None:
    client = TwilioClient(DEFAULT_API_KEY_SID, "wrong", DEFAULT_ACCOUNT_SID)
    client.api.base_url = sandbox.url
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to=RECIPIENT, from_="+15005550006", body="x")
    assert (refused.value.status, refused.value.code) == (401, 20003)


@pytest.mark.parametrize(("fault", "code"), [("429", 20429), ("500", 20500), ("503", 20503)])
def test_twilio_reads_each_fault(
    twilio: TwilioClient, sandbox: SandboxServer, fault: str, code: int
) -> None:
    sandbox.faults.add(fault)
    with pytest.raises(TwilioRestException) as failed:
        twilio.messages.create(to=RECIPIENT, from_="+15005550006", body="x")
    assert (failed.value.status, failed.value.code) == (int(fault), code)


# -- SendGrid --------------------------------------------------------------------------


def sendgrid(sandbox: SandboxServer, key: str = DEFAULT_SENDGRID_API_KEY) -> SendGridAPIClient:
    return SendGridAPIClient(api_key=key, host=sandbox.url)


def mail(**changes: Any) -> Mail:
    fields: dict[str, Any] = {
        "from_email": "alerts@example.com",
        "to_emails": "ada@example.com",
        "subject": "Disk almost full",
        "plain_text_content": "92% used",
        "html_content": "<p><b>92%</b> used</p>",
    }
    fields.update(changes)
    return Mail(**fields)


def test_sendgrid_sends_and_gets_a_message_id(sandbox: SandboxServer) -> None:
    response = sendgrid(sandbox).send(mail())

    assert response.status_code == 202
    (stored,) = sandbox.outbox("sendgrid")
    assert response.headers["X-Message-Id"] == stored.provider_id
    assert (stored.subject, stored.text) == ("Disk almost full", "92% used")


def test_sendgrid_reads_a_refusal_with_its_field(sandbox: SandboxServer) -> None:
    with pytest.raises(sendgrid_errors.BadRequestsError) as refused:
        sendgrid(sandbox).send(mail(subject=None))
    (error,) = refused.value.to_dict["errors"]
    assert error["field"] == "subject"


def test_sendgrid_reads_a_wrong_key(sandbox: SandboxServer) -> None:
    with pytest.raises(sendgrid_errors.UnauthorizedError) as refused:
        sendgrid(sandbox, "SG.wrong").send(mail())
    assert refused.value.to_dict["errors"][0]["message"]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("429", sendgrid_errors.TooManyRequestsError),
        ("500", sendgrid_errors.InternalServerError),
        ("503", sendgrid_errors.ServiceUnavailableError),
    ],
)
def test_sendgrid_reads_each_fault(
    sandbox: SandboxServer, fault: str, error: type[Exception]
) -> None:
    sandbox.faults_for("sendgrid").add(fault)
    with pytest.raises(error) as failed:
        sendgrid(sandbox).send(mail())
    assert failed.value.to_dict["errors"]  # type: ignore[attr-defined]


# -- Vonage v4 -------------------------------------------------------------------------


class ToSandbox(HTTPAdapter):
    """The SDK speaks only https to its host: carry its requests to the sandbox's http."""

    def __init__(self, url: str) -> None:
        super().__init__(max_retries=0)
        self.url = url

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        assert request.url is not None
        assert request.url.startswith("https://rest.sandbox.test/")
        request.url = self.url + request.url.removeprefix("https://rest.sandbox.test")
        return super().send(request, **kwargs)


@pytest.fixture
def vonage(sandbox: SandboxServer) -> Iterator[Vonage]:
    client = Vonage(
        Auth(api_key=DEFAULT_VONAGE_API_KEY, api_secret=DEFAULT_VONAGE_API_SECRET),
        HttpClientOptions(rest_host="rest.sandbox.test"),
    )
    client.sms._http_client._session.mount("https://", ToSandbox(sandbox.url))
    return client


def test_vonage_sends_with_basic_credentials(vonage: Vonage, sandbox: SandboxServer) -> None:
    response = vonage.sms.send(SmsMessage(to="447700900000", from_="Norq", text="Hello"))

    (part,) = response.messages
    assert part.status == "0"
    assert part.network == "00101"
    (stored,) = sandbox.outbox("vonage")
    assert stored.provider_id == part.message_id
    (logged,) = sandbox.requests_to("vonage")
    assert logged.username == DEFAULT_VONAGE_API_KEY


def signed_fields(secret: str, method: str = "md5") -> dict[str, Any]:
    """SMS fields signed by the SDK's own signer, over exactly the fields sent.

    (The SDK's Sms.send signs the fields it leaves empty too, which a form does not
    carry, so its signed sends cannot be verified by Vonage or by the sandbox.)
    """
    auth = Auth(api_key=DEFAULT_VONAGE_API_KEY, signature_secret=secret, signature_method=method)
    fields: dict[str, Any] = {
        "api_key": DEFAULT_VONAGE_API_KEY,
        "from": "Norq",
        "to": "447700900000",
        "text": "Tom & Jerry = friends",
    }
    fields["sig"] = auth.sign_params(fields)  # adds the timestamp it signs
    return fields


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256", "sha512"])
def test_vonage_accepts_a_request_signed_as_the_sdk_signs(method: str) -> None:
    with SandboxServer(step_delay=0.01, vonage_signature_method=method) as signed:
        answer = httpx.post(
            signed.url + "/sms/json", data=signed_fields(DEFAULT_VONAGE_SIGNATURE_SECRET, method)
        ).json()

        assert answer["messages"][0]["status"] == "0"
        (logged,) = signed.requests_to("vonage")
        assert logged.params["sig"] == ["********"]


def test_vonage_refuses_a_bad_signature(sandbox: SandboxServer) -> None:
    answer = httpx.post(sandbox.url + "/sms/json", data=signed_fields("not-the-secret")).json()
    assert answer["messages"] == [{"status": "14", "error-text": "Invalid Signature"}]
    assert sandbox.outbox() == []


def test_vonage_reads_a_long_unicode_text_as_its_parts(vonage: Vonage) -> None:
    message = SmsMessage(to="447700900000", from_="Norq", text="ж" * 100, type="unicode")
    response = vonage.sms.send(message)
    assert response.message_count == "2"
    assert [part.status for part in response.messages] == ["0", "0"]


def test_vonage_reads_a_refusal_inside_a_200(vonage: Vonage) -> None:
    with pytest.raises(SmsError, match="error code 3"):
        vonage.sms.send(SmsMessage(to="12", from_="Norq", text="x"))


@pytest.mark.parametrize(("fault", "code"), [("429", "1"), ("body-error", "5")])
def test_vonage_reads_a_fault_inside_a_200(
    vonage: Vonage, sandbox: SandboxServer, fault: str, code: str
) -> None:
    sandbox.faults_for("vonage").add(fault)
    with pytest.raises(SmsError, match=f"error code {code}"):
        vonage.sms.send(SmsMessage(to="447700900000", from_="Norq", text="x"))


@pytest.mark.parametrize(("fault", "error"), [("500", ServerError), ("503", HttpRequestError)])
def test_vonage_reads_a_server_error(
    vonage: Vonage, sandbox: SandboxServer, fault: str, error: type[Exception]
) -> None:
    sandbox.faults_for("vonage").add(fault)
    with pytest.raises(error):
        vonage.sms.send(SmsMessage(to="447700900000", from_="Norq", text="x"))


# -- Slack -----------------------------------------------------------------------------


@pytest.fixture
def slack(sandbox: SandboxServer) -> WebClient:
    return WebClient(token=DEFAULT_SLACK_TOKEN, base_url=sandbox.url + "/api/")


def test_slack_posts_a_message(slack: WebClient, sandbox: SandboxServer) -> None:
    response = slack.chat_postMessage(channel="#alerts", text="Deploy finished")

    assert response["ok"] is True
    (stored,) = sandbox.outbox("slack")
    assert response["ts"] == stored.provider_id
    assert response["message"]["text"] == "Deploy finished"


def test_slack_reads_a_refusal(slack: WebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        slack.chat_postMessage(channel="", text="x")
    assert refused.value.response["error"] == "channel_not_found"


def test_slack_reads_a_wrong_token(sandbox: SandboxServer) -> None:
    client = WebClient(token="xoxb-wrong", base_url=sandbox.url + "/api/")
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="#a", text="x")
    assert refused.value.response["error"] == "invalid_auth"


def test_slack_reads_a_rate_limit_with_its_retry_after(
    slack: WebClient, sandbox: SandboxServer
) -> None:
    sandbox.faults_for("slack").add("429:7")
    with pytest.raises(SlackApiError) as limited:
        slack.chat_postMessage(channel="#a", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["retry-after"] == "7"


def test_slack_reads_internal_error_after_the_post(
    slack: WebClient, sandbox: SandboxServer
) -> None:
    sandbox.faults_for("slack").add("body-error")
    with pytest.raises(SlackApiError) as failed:
        slack.chat_postMessage(channel="#a", text="maybe")
    assert failed.value.response["error"] == "internal_error"
    assert [m.text for m in sandbox.outbox("slack")] == ["maybe"]


@pytest.mark.parametrize("fault", ["500", "503"])
def test_slack_reads_a_server_error(slack: WebClient, sandbox: SandboxServer, fault: str) -> None:
    sandbox.faults_for("slack").add(fault)
    with pytest.raises(SlackApiError) as failed:
        slack.chat_postMessage(channel="#a", text="x")
    assert failed.value.response.status_code == int(fault)
    assert sandbox.outbox("slack") == []


def test_slack_webhook_posts_and_reads_errors(sandbox: SandboxServer) -> None:
    hook = WebhookClient(f"{sandbox.url}/services/T0SANDBOX/B0SANDBOX/secret")

    sent = hook.send(text="Deploy finished")
    assert (sent.status_code, sent.body) == (200, "ok")
    refused = hook.send(text="")
    assert (refused.status_code, refused.body) == (400, "no_text")
    sandbox.faults_for("slack").add("429:3")
    limited = hook.send(text="x")
    assert (limited.status_code, limited.body) == (429, "rate_limited")
    assert [m.text for m in sandbox.outbox("slack-webhook")] == ["Deploy finished"]
