"""The official SDKs and Norq send the same requests: one recording server sees both.

For every option a provider's SDK and Norq both support, the same message
goes through twilio-python, sendgrid-python, vonage (v4) and slack_sdk, and
through Norq, to one loopback server that records what arrived. The two
recordings must agree on the method, the path, the credentials and how they
are sent, the content type and the body (a form as its pairs in any order,
repeated names kept in order; JSON as its value). Headers that only name the
client (User-Agent) are not compared.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from email.message import Message as MimeHeader
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

import norq
from norq.plugins import get_plugin_manager
from norq.testing import MockServer, RecordedRequest, json_response

twilio_rest = pytest.importorskip("twilio.rest")
sendgrid = pytest.importorskip("sendgrid")
sendgrid_mail = pytest.importorskip("sendgrid.helpers.mail")
vonage = pytest.importorskip("vonage")
slack_web = pytest.importorskip("slack_sdk.web")
slack_webhook = pytest.importorskip("slack_sdk.webhook")

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
API_KEY_SID = "SK" + "fedcba9876543210" * 2
API_KEY_SECRET = "twilio-key-secret"
SERVICE_SID = "MG" + "00112233445566778899aabbccddeeff"
SENDGRID_KEY = "SG.sendgrid-key-secret"
VONAGE_KEY = "abcd1234"
VONAGE_SECRET = "vonage-Secret-1"
SLACK_TOKEN = "xoxb-1234-slack-token"
WEBHOOK_PATH = "/services/T0000/B0000/webhook-secret"


def _answer(request: RecordedRequest) -> norq.Response:
    """What each API answers a send: enough for every SDK and for Norq to read it."""
    path = urlsplit(request.url).path
    if path.endswith("/Messages.json"):
        return json_response(201, {"sid": "SM" + "ab" * 16, "status": "queued"})
    if path == "/v3/mail/send":
        return norq.Response(202, {"x-message-id": "sg-1"}, b"")
    if path == "/sms/json":
        part = {"to": "447700900001", "message-id": "0C00000001", "status": "0", "network": "23410"}
        return json_response(200, {"message-count": "1", "messages": [part]})
    if path == "/api/chat.postMessage":
        return json_response(200, {"ok": True, "channel": "C0123ABCDE", "ts": "1700000000.000100"})
    if path == WEBHOOK_PATH:
        return norq.Response(200, {"content-type": "text/html"}, b"ok")
    return json_response(404, {"error": f"no route {path}"})


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(handler=_answer) as recording:
        yield recording


def _content_type(headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The media type and its parameters, however spaced and cased."""
    header = MimeHeader()
    header["content-type"] = headers.get("content-type", "")
    params = {key.lower(): value.lower() for key, value in header.get_params()[1:]}
    return header.get_content_type(), params


def _auth(headers: dict[str, str], form: dict[str, list[str]]) -> tuple[str, ...]:
    """The credentials and how they travel: a Basic pair, a Bearer token, or body fields."""
    value = headers.get("authorization", "")
    if value.startswith("Basic "):
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return ("basic", user, password)
    if value.startswith("Bearer "):
        return ("bearer", value[7:])
    in_body = tuple(f"{name}={form[name][0]}" for name in ("api_key", "api_secret") if name in form)
    return ("body", *in_body) if in_body else ("none",)


def seen(request: RecordedRequest) -> dict[str, Any]:
    """What the server saw that matters to the API."""
    media_type, params = _content_type(dict(request.headers))
    form: dict[str, list[str]] = {}
    body: Any
    if media_type == "application/x-www-form-urlencoded":
        for name, value in parse_qsl(request.body.decode(), keep_blank_values=True):
            form.setdefault(name, []).append(value)
        body = {
            name: values for name, values in form.items() if name not in ("api_key", "api_secret")
        }
    else:
        body = json.loads(request.body) if request.body else None
    parts = urlsplit(request.url)
    return {
        "method": request.method,
        "path": parts.path,
        "query": parts.query,
        "auth": _auth(dict(request.headers), form),
        "content_type": (media_type, params.get("charset", "utf-8")),
        "body": body,
    }


def _both(server: MockServer, by_sdk: Callable[[], Any], by_norq: Callable[[], Any]) -> None:
    """Send with each, and compare the two requests the server recorded."""
    before = len(server.requests)
    by_sdk()
    by_norq()
    sdk_request, norq_request = server.requests[before:]
    assert seen(norq_request) == seen(sdk_request)


def _norq(server: MockServer, provider: str, config: dict[str, Any], channel: str) -> norq.Norq:
    document = {
        "providers": {provider: {"config": config, "retry": {"max_retries": 0}}},
        "routing": {channel: provider},
    }
    return norq.Norq.from_dict(
        document, environ={}, plugin_manager=get_plugin_manager(load_entry_points=True)
    )


# -- Twilio -------------------------------------------------------------------------

SEND_AT = dt.datetime(2030, 5, 4, 8, 0, tzinfo=dt.UTC)

TWILIO_CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (the SDK's arguments beyond to/from/body, Norq's per-message options)
    "plain": ({}, {}),
    "mms": (
        {"media_url": ["https://cdn.example.com/a.png", "https://cdn.example.com/b.png"]},
        {"media_urls": ["https://cdn.example.com/a.png", "https://cdn.example.com/b.png"]},
    ),
    "status callback": (
        {"status_callback": "https://hooks.example.com/status?order=42"},
        {"status_callback": "https://hooks.example.com/status?order=42"},
    ),
    "flags": (
        {"smart_encoded": True, "provide_feedback": False},
        {"smart_encoded": True, "provide_feedback": False},
    ),
}


@pytest.mark.parametrize("case", sorted(TWILIO_CASES))
def test_twilio_messages_create(server: MockServer, case: str) -> None:
    sdk_options, norq_options = TWILIO_CASES[case]
    client = twilio_rest.Client(API_KEY_SID, API_KEY_SECRET, ACCOUNT_SID)
    client.api.base_url = server.url
    config = {
        "account_sid": ACCOUNT_SID,
        "api_key_sid": API_KEY_SID,
        "api_key_secret": API_KEY_SECRET,
        "from": "+15005550006",
        "base_url": server.url,
    }
    with _norq(server, "twilio", config, "sms") as app:
        _both(
            server,
            lambda: client.messages.create(
                to="+15558675310", from_="+15005550006", body="Grüße & 👋", **sdk_options
            ),
            lambda: app.notify("sms", "+15558675310", body="Grüße & 👋", **norq_options),
        )


def test_twilio_scheduled_through_a_messaging_service_with_its_account_options(
    server: MockServer,
) -> None:
    client = twilio_rest.Client(API_KEY_SID, API_KEY_SECRET, ACCOUNT_SID)
    client.api.base_url = server.url
    config = {
        "account_sid": ACCOUNT_SID,
        "api_key_sid": API_KEY_SID,
        "api_key_secret": API_KEY_SECRET,
        "messaging_service_sid": SERVICE_SID,
        "max_price": "0.05",
        "validity_period": 600,
        "base_url": server.url,
    }
    with _norq(server, "twilio", config, "sms") as app:
        _both(
            server,
            lambda: client.messages.create(
                to="+15558675310",
                messaging_service_sid=SERVICE_SID,
                body="Reminder",
                send_at=SEND_AT,
                schedule_type="fixed",
                max_price=0.05,
                validity_period=600,
            ),
            lambda: app.notify("sms", "+15558675310", body="Reminder", send_at=SEND_AT),
        )


# -- SendGrid -----------------------------------------------------------------------

PDF = b"%PDF-1.4 a small file"
ORDER = {"name": "Ada", "order": {"id": 42, "items": ["book", "pen"]}}
TEMPLATE_ID = "d-4ad23ad40a0e47d0a0232b85f24ca5c2"


def _sendgrid_mail(case: str) -> Any:
    helpers = sendgrid_mail
    if case == "dynamic template":
        mail = helpers.Mail(from_email="shop@example.com", to_emails="ada@example.com")
        mail.template_id = TEMPLATE_ID
        mail.dynamic_template_data = ORDER
        return mail
    mail = helpers.Mail(
        from_email=helpers.From("shop@example.com", "Shop"),
        to_emails="ada@example.com",
        subject="Your order",
        plain_text_content="Shipped.",
        html_content="<p>Shipped.</p>" if case != "plain" else None,
    )
    if case == "every option":
        mail.add_cc(helpers.Cc("bob@example.com"))
        mail.add_bcc(helpers.Bcc("audit@example.com"))
        mail.reply_to = helpers.ReplyTo("help@example.com")
        # The SDK puts each category it is given first: this lands as receipt, shop.
        mail.category = [helpers.Category("shop"), helpers.Category("receipt")]
        mail.custom_arg = [helpers.CustomArg("order", "42")]
        mail.attachment = helpers.Attachment(
            helpers.FileContent(base64.b64encode(PDF).decode()),
            helpers.FileName("invoice.pdf"),
            helpers.FileType("application/pdf"),
            helpers.Disposition("attachment"),
        )
    return mail


SENDGRID_NORQ: dict[str, dict[str, Any]] = {
    "plain": {"body": "Shipped.", "subject": "Your order"},
    "html": {"body": "Shipped.", "subject": "Your order", "html": "<p>Shipped.</p>"},
    "every option": {
        "body": "Shipped.",
        "subject": "Your order",
        "html": "<p>Shipped.</p>",
        "cc": ["bob@example.com"],
        "bcc": "audit@example.com",
        "reply_to": "help@example.com",
        "categories": ["receipt", "shop"],
        "custom_args": {"order": "42"},
        "attachments": [
            {
                "filename": "invoice.pdf",
                "content": PDF,
                "type": "application/pdf",
                "disposition": "attachment",
            }
        ],
    },
    "dynamic template": {"template_id": TEMPLATE_ID, "dynamic_template_data": ORDER},
}


@pytest.mark.parametrize("case", sorted(SENDGRID_NORQ))
def test_sendgrid_mail_send(server: MockServer, case: str) -> None:
    client = sendgrid.SendGridAPIClient(SENDGRID_KEY, host=server.url)
    config = {"api_key": SENDGRID_KEY, "from": "shop@example.com", "base_url": server.url}
    if case != "dynamic template":
        config["from_name"] = "Shop"
    with _norq(server, "sendgrid", config, "email") as app:
        _both(
            server,
            lambda: client.send(_sendgrid_mail(case)),
            lambda: app.notify("email", "ada@example.com", **SENDGRID_NORQ[case]),
        )


# -- Vonage -------------------------------------------------------------------------

VONAGE_CASES: dict[str, dict[str, Any]] = {
    # Norq's option names; the SDK's are the same but for client_ref's spelling.
    "text": {"type": "text"},
    "unicode": {"type": "unicode"},
    "options": {
        "type": "text",
        "client_ref": "order-42",
        "callback": "https://hooks.example.com/dlr",
        "ttl": 900000,
    },
    "india dlt": {
        "type": "text",
        "entity_id": "1101456789012345678",
        "content_id": "1107161234567890123",
    },
}


@pytest.mark.parametrize("case", sorted(VONAGE_CASES))
def test_vonage_sms_send(server: MockServer, case: str) -> None:
    from requests.adapters import HTTPAdapter
    from vonage_http_client import Auth, HttpClientOptions
    from vonage_sms import SmsMessage

    host = urlsplit(server.url).netloc
    client = vonage.Vonage(Auth(VONAGE_KEY, VONAGE_SECRET), HttpClientOptions(rest_host=host))

    class PlainHttp(HTTPAdapter):
        # The SDK writes https:// before any host; the recording server speaks http.
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            request.url = request.url.replace("https://", "http://", 1)
            return super().send(request, *args, **kwargs)

    client.http_client._session.mount("https://", PlainHttp())
    options = VONAGE_CASES[case]
    body = "Grüße ✓" if options["type"] == "unicode" else "Your code is 1234"
    config = {
        "api_key": VONAGE_KEY,
        "api_secret": VONAGE_SECRET,
        "from": "Norq",
        "base_url": server.url,
    }
    with _norq(server, "vonage", config, "sms") as app:
        _both(
            server,
            lambda: client.sms.send(
                SmsMessage(to="447700900001", from_="Norq", text=body, **options)
            ),
            lambda: app.notify("sms", "+447700900001", body=body, **options),
        )


# -- Slack --------------------------------------------------------------------------

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*api* is at `1.2`"}}]
METADATA = {"event_type": "deploy_finished", "event_payload": {"service": "api"}}

SLACK_CASES: dict[str, dict[str, Any]] = {
    "text": {},
    "blocks": {"blocks": BLOCKS},
    "thread": {"thread_ts": "1700000000.000100", "reply_broadcast": True},
    "unfurl and mrkdwn": {"unfurl_links": False, "unfurl_media": False, "mrkdwn": False},
    "identity": {"username": "deploy-bot", "icon_emoji": ":rocket:"},
    "icon url": {"icon_url": "https://example.com/bot.png"},
    "metadata": {"metadata": METADATA},
}


@pytest.mark.parametrize("case", sorted(SLACK_CASES))
def test_slack_chat_post_message(server: MockServer, case: str) -> None:
    client = slack_web.WebClient(token=SLACK_TOKEN, base_url=f"{server.url}/api/")
    options = SLACK_CASES[case]
    config = {"bot_token": SLACK_TOKEN, "base_url": server.url}
    with _norq(server, "slack", config, "chat") as app:
        _both(
            server,
            lambda: client.chat_postMessage(channel="#deploys", text="Deployed", **options),
            lambda: app.notify("chat", "#deploys", body="Deployed", **options),
        )


@pytest.mark.parametrize(
    "options", [{}, {"blocks": BLOCKS, "unfurl_media": False, "mrkdwn": False}], ids=["text", "all"]
)
def test_slack_incoming_webhook(server: MockServer, options: dict[str, Any]) -> None:
    url = f"{server.url}{WEBHOOK_PATH}"
    client = slack_webhook.WebhookClient(url)
    with _norq(server, "slack_webhook", {"webhook_url": url}, "chat") as app:
        _both(
            server,
            lambda: client.send_dict({"text": "Disk almost full", **options}),
            lambda: app.notify("chat", "#alerts", body="Disk almost full", **options),
        )
