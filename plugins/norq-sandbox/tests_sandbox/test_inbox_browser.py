"""The sandbox inbox in a real headless Chromium: live updates without a reload.

Without Chromium this skips on a laptop, and fails under CI (CI=true), where
.ci/run installs Debian's chromium first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from norq_sandbox import DEFAULT_API_KEY_SECRET, DEFAULT_API_KEY_SID, SandboxServer

from tests_sandbox.chromium import Chromium, find_chromium
from tests_sandbox.conftest import MESSAGES_PATH, send

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture
def browser() -> Iterator[Chromium]:
    executable = find_chromium()
    if executable is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if _in_ci():
            pytest.fail(f"{message}; CI must run the browser test")
        pytest.skip(message)
    with Chromium(executable, width=1100, height=900) as chromium:
        yield chromium


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.05) as server:
        yield server


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    auth = (DEFAULT_API_KEY_SID, DEFAULT_API_KEY_SECRET)
    with httpx.Client(base_url=sandbox.url, auth=auth, timeout=10) as client:
        yield client


def open_inbox(browser: Chromium, sandbox: SandboxServer) -> None:
    browser.goto(sandbox.url + "/")
    browser.wait_for("document.getElementById('connection').dataset.state === 'live'")
    # Survives only as long as this very page does: a reload would erase it.
    browser.evaluate("window.openedBeforeTheMessage = true")


def card(sid: str) -> str:
    return f"document.querySelector('.message[data-sid=\"{sid}\"]')"


def test_a_message_sent_after_the_page_opened_appears_without_reload(
    browser: Chromium, sandbox: SandboxServer, api: httpx.Client, tmp_path: Path
) -> None:
    open_inbox(browser, sandbox)
    assert browser.evaluate("document.querySelectorAll('.message').length") == 0

    sid = send(api, To="+15558675310", Body="Your Norq code is 428913.").json()["sid"]

    browser.wait_for(f"!!{card(sid)}", timeout=10)
    browser.wait_for(f"{card(sid)}.querySelector('.status').dataset.status === 'delivered'")
    text = browser.evaluate(f"{card(sid)}.innerText")
    thread = browser.evaluate(
        f"{card(sid)}.closest('.thread').querySelector('.thread-head').innerText"
    )
    assert "+15558675310" in thread
    assert "Your Norq code is 428913." in text
    assert "1 segment" in text
    steps = browser.evaluate(
        f"[...{card(sid)}.querySelectorAll('.step')].map(s => s.dataset.status)"
    )
    assert steps == ["queued", "sending", "sent", "delivered"]
    assert browser.evaluate("window.openedBeforeTheMessage") is True
    assert browser.evaluate("document.getElementById('stat-delivered').textContent") == "1"

    shot = browser.screenshot(tmp_path / "inbox.png")
    assert shot.read_bytes().startswith(PNG_SIGNATURE)
    assert shot.stat().st_size > 10_000


def test_newest_messages_are_on_top(
    browser: Chromium, sandbox: SandboxServer, api: httpx.Client
) -> None:
    open_inbox(browser, sandbox)

    sids = [send(api, Body=f"message {n}").json()["sid"] for n in range(3)]

    browser.wait_for("document.querySelectorAll('.message').length === 3")
    shown = browser.evaluate("[...document.querySelectorAll('.message')].map(m => m.dataset.sid)")
    assert shown == sids[::-1]


def test_message_bodies_are_shown_as_text_never_as_html(
    browser: Chromium, sandbox: SandboxServer, api: httpx.Client
) -> None:
    open_inbox(browser, sandbox)
    body = '<img src=x onerror="window.injected = true"> <b>bold?</b>'

    sid = send(api, Body=body).json()["sid"]

    browser.wait_for(f"!!{card(sid)}")
    assert browser.evaluate(f"{card(sid)}.querySelector('.body').textContent") == body
    assert browser.evaluate(f"{card(sid)}.querySelector('.body img')") is None
    assert browser.evaluate("window.injected === undefined") is True


def test_clear_empties_the_inbox_live(
    browser: Chromium, sandbox: SandboxServer, api: httpx.Client
) -> None:
    send(api)
    open_inbox(browser, sandbox)
    browser.wait_for("document.querySelectorAll('.message').length === 1")

    assert api.post("/_sandbox/reset").status_code == 204

    browser.wait_for("document.querySelectorAll('.message').length === 0")
    browser.wait_for("!document.getElementById('empty').hidden")
    assert api.get(MESSAGES_PATH).json()["messages"] == []


# -- every channel in one inbox ----------------------------------------------------------

SENDGRID_KEY = "SG.sandbox-api-key"
HOSTILE_HTML = (
    "<h1>Quarterly report</h1>"
    "<script>parent.postMessage('script ran', '*'); document.title = 'pwned'</script>"
    "<img src=\"x\" onerror=\"parent.postMessage('handler ran', '*')\">"
)


def send_email(sandbox: SandboxServer, subject: str, html: str = "<p>Hi</p>") -> str:
    response = httpx.post(
        f"{sandbox.url}/v3/mail/send",
        headers={"Authorization": f"Bearer {SENDGRID_KEY}"},
        json={
            "personalizations": [{"to": [{"email": "ada@example.com"}]}],
            "from": {"email": "alerts@example.com", "name": "Alerts"},
            "subject": subject,
            "content": [
                {"type": "text/plain", "value": "plain words"},
                {"type": "text/html", "value": html},
            ],
        },
    )
    assert response.status_code == 202
    (email,) = [m for m in sandbox.outbox("sendgrid") if m.subject == subject]
    return email.id


def post_chat(sandbox: SandboxServer, text: str) -> str:
    answer = httpx.post(
        f"{sandbox.url}/api/chat.postMessage",
        headers={"Authorization": "Bearer xoxb-sandbox-token"},
        json={"channel": "#alerts", "text": text},
    ).json()
    assert answer["ok"] is True
    return f"{answer['channel']}-{answer['ts']}"


def test_an_sms_an_email_and_a_chat_message_arrive_live(
    browser: Chromium, sandbox: SandboxServer, api: httpx.Client, tmp_path: Path
) -> None:
    open_inbox(browser, sandbox)

    sid = send(api, To="+15558675310", Body="Your code is 428913").json()["sid"]
    email_id = send_email(sandbox, "Disk almost full", "<p><b>92%</b> used</p>")
    chat_id = post_chat(sandbox, "Deploy finished")

    browser.wait_for("document.querySelectorAll('.card').length === 3")
    assert browser.evaluate("window.openedBeforeTheMessage") is True
    channels = browser.evaluate(
        "[...document.querySelectorAll('.card')].map(c => c.dataset.channel)"
    )
    assert channels == ["chat", "email", "sms"]
    assert "Your code is 428913" in browser.evaluate(f"{card(sid)}.innerText")
    email = browser.evaluate(f"{card(email_id)}.innerText")
    assert "Disk almost full" in email
    assert "Alerts <alerts@example.com>" in email
    assert "ada@example.com" in email
    assert "Deploy finished" in browser.evaluate(f"{card(chat_id)}.innerText")
    counts = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('[data-count]')]"
        ".map(c => [c.dataset.count, c.textContent]))"
    )
    assert counts == {"all": "3", "sms": "1", "email": "1", "chat": "1"}
    browser.wait_for(f"{card(email_id)}.querySelector('iframe').dataset.loaded === 'true'")

    shot = browser.screenshot(tmp_path / "inbox-all-channels.png", full_page=True)
    assert shot.read_bytes().startswith(PNG_SIGNATURE)


def test_sms_to_one_recipient_from_one_sender_form_a_thread(
    browser: Chromium, sandbox: SandboxServer, api: httpx.Client
) -> None:
    open_inbox(browser, sandbox)

    first = send(api, To="+15558675310", Body="one").json()["sid"]
    send(api, To="+15550000000", Body="someone else")
    second = send(api, To="+15558675310", Body="two").json()["sid"]

    browser.wait_for("document.querySelectorAll('.thread').length === 2")
    thread = f"{card(first)}.closest('.thread')"
    in_thread = browser.evaluate(
        f"[...{thread}.querySelectorAll('.message')].map(m => m.dataset.sid)"
    )
    assert in_thread == [second, first]
    assert browser.evaluate("document.querySelector('.card').contains(" + card(second) + ")")
    assert "2 messages" in browser.evaluate(f"{thread}.innerText")


def test_an_emails_html_runs_no_script_in_its_sandboxed_frame(
    browser: Chromium, sandbox: SandboxServer
) -> None:
    open_inbox(browser, sandbox)
    browser.evaluate(
        "window.frameMessages = [];"
        "window.addEventListener('message', (e) => window.frameMessages.push([e.source, e.data]))"
    )

    email_id = send_email(sandbox, "Report", HOSTILE_HTML)
    frame = f"{card(email_id)}.querySelector('iframe')"
    browser.wait_for(f"!!{card(email_id)}")
    browser.wait_for(f"{frame}.dataset.loaded === 'true'")
    # The control: the same HTML in an ordinary frame does run, and reports it.
    browser.evaluate(
        "const control = document.createElement('iframe');"
        f"control.srcdoc = {json.dumps(HOSTILE_HTML)};"
        "document.body.append(control); window.control = control"
    )
    browser.wait_for(
        "window.frameMessages.some(([source, data]) =>"
        " source === window.control.contentWindow && data === 'script ran')"
    )

    from_email = browser.evaluate(
        f"window.frameMessages.filter(([source]) => source === {frame}.contentWindow).length"
    )
    assert from_email == 0
    assert browser.evaluate(f"{frame}.getAttribute('sandbox')") == ""
    assert browser.evaluate("document.title") == "Norq sandbox · inbox"
    # A sandboxed frame without allow-same-origin is opaque: the inbox cannot reach into it.
    assert browser.evaluate(f"{frame}.contentDocument") is None
    headers = httpx.get(f"{sandbox.url}/_sandbox/messages/{email_id}/html").headers
    assert "sandbox" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]


def test_the_channel_filters_show_one_channel(
    browser: Chromium, sandbox: SandboxServer, api: httpx.Client
) -> None:
    open_inbox(browser, sandbox)
    send(api, Body="an sms")
    send_email(sandbox, "an email")
    post_chat(sandbox, "a chat message")
    browser.wait_for("document.querySelectorAll('.card').length === 3")

    browser.evaluate("document.querySelector('[data-filter=\"email\"]').click()")

    visible = browser.evaluate(
        "[...document.querySelectorAll('.card')].filter(c => c.offsetParent !== null)"
        ".map(c => c.dataset.channel)"
    )
    assert visible == ["email"]
