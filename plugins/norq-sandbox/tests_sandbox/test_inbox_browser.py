"""The sandbox inbox in a real headless Chromium: live updates without a reload.

Without Chromium this skips on a laptop, and fails under CI (CI=true), where
.ci/run installs Debian's chromium first.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from norq_sandbox import DEFAULT_API_KEY_SECRET, DEFAULT_API_KEY_SID, SandboxServer
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.twilio_resources import MessageDraft

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
    browser.wait_for("document.getElementById('stat-delivered').textContent === '1'")

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


def push_to_apple(sandbox: SandboxServer, payload: dict[str, Any]) -> str:
    key, key_id, team_id = sandbox.apns_signing_key()
    token = jwt.encode(
        {"iss": team_id, "iat": int(time.time())}, key, algorithm="ES256", headers={"kid": key_id}
    )
    answer = httpx.post(
        f"{sandbox.url}/3/device/{'a1' * 32}",
        headers={"authorization": f"bearer {token}", "apns-topic": "com.example.shop"},
        json=payload,
    )
    assert answer.status_code == 200
    return f"apns-{answer.headers['apns-id']}"


def test_an_sms_an_email_a_chat_message_and_a_push_arrive_live(
    browser: Chromium, sandbox: SandboxServer, api: httpx.Client, tmp_path: Path
) -> None:
    open_inbox(browser, sandbox)

    sid = send(api, To="+15558675310", Body="Your code is 428913").json()["sid"]
    email_id = send_email(sandbox, "Disk almost full", "<p><b>92%</b> used</p>")
    chat_id = post_chat(sandbox, "Deploy finished")
    push_id = push_to_apple(
        sandbox, {"aps": {"alert": {"title": "Order shipped", "body": "On its way"}}}
    )

    browser.wait_for("document.querySelectorAll('.card').length === 4")
    assert browser.evaluate("window.openedBeforeTheMessage") is True
    channels = browser.evaluate(
        "[...document.querySelectorAll('.card')].map(c => c.dataset.channel)"
    )
    assert channels == ["push", "chat", "email", "sms"]
    notification = browser.evaluate(f"{card(push_id)}.querySelector('.notification').innerText")
    assert "Order shipped" in notification
    assert "On its way" in notification
    assert "com.example.shop" in notification  # the app, as a phone names it
    assert "Your code is 428913" in browser.evaluate(f"{card(sid)}.innerText")
    email = browser.evaluate(f"{card(email_id)}.innerText")
    assert "Disk almost full" in email
    assert "Alerts <alerts@example.com>" in email
    assert "ada@example.com" in email
    assert "Deploy finished" in browser.evaluate(f"{card(chat_id)}.innerText")
    counts = (
        "JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-count]')]"
        ".map(c => [c.dataset.count, c.textContent])))"
    )
    expected = {"all": "4", "sms": "1", "email": "1", "chat": "1", "push": "1"}
    browser.wait_for(f"{counts} === {json.dumps(json.dumps(expected, separators=(',', ':')))}")
    browser.wait_for(f"{card(email_id)}.querySelector('iframe').dataset.loaded === 'true'")

    shot = browser.screenshot(tmp_path / "inbox-all-channels.png", full_page=True)
    assert shot.read_bytes().startswith(PNG_SIGNATURE)


def test_a_data_only_push_shows_its_data_and_no_notification(
    browser: Chromium, sandbox: SandboxServer
) -> None:
    open_inbox(browser, sandbox)

    push_id = push_to_apple(sandbox, {"aps": {"content-available": 1}, "order": "A-1"})

    browser.wait_for(f"{card(push_id)} !== null")
    assert browser.evaluate(f"{card(push_id)}.querySelector('.notification').hidden") is True
    data = browser.evaluate(f"{card(push_id)}.querySelector('.push-data pre').textContent")
    assert json.loads(data) == {"order": "A-1"}
    assert browser.evaluate(f"{card(push_id)}.querySelector('.push-data').open") is True


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
    # No allow-scripts: the frame may be measured by the inbox, never run anything.
    assert browser.evaluate(f"{frame}.getAttribute('sandbox')") == "allow-same-origin"
    assert browser.evaluate("document.title") == "Norq sandbox · inbox"
    # The hostile script would have renamed its own document: it never ran.
    assert browser.evaluate(f"{frame}.contentDocument.title") != "pwned"
    assert browser.evaluate(f"{frame}.contentDocument.querySelector('h1').textContent") == (
        "Quarterly report"
    )
    policy = httpx.get(f"{sandbox.url}/_sandbox/messages/{email_id}/html").headers[
        "content-security-policy"
    ]
    assert policy.startswith("sandbox allow-same-origin;")
    assert "allow-scripts" not in policy
    assert "script-src" not in policy
    assert "default-src 'none'" in policy


def test_the_channel_filters_show_one_channel(
    browser: Chromium, sandbox: SandboxServer, api: httpx.Client
) -> None:
    open_inbox(browser, sandbox)
    send(api, Body="an sms")
    send_email(sandbox, "an email")
    post_chat(sandbox, "a chat message")
    browser.wait_for("document.querySelectorAll('.card').length === 3")

    browser.evaluate("document.querySelector('[data-filter=\"email\"]').click()")

    browser.wait_for("document.querySelectorAll('.card').length === 1")
    visible = browser.evaluate(
        "[...document.querySelectorAll('.card')].filter(c => c.offsetParent !== null)"
        ".map(c => c.dataset.channel)"
    )
    assert visible == ["email"]


def test_clear_asks_before_it_deletes(
    browser: Chromium, sandbox: SandboxServer, api: httpx.Client
) -> None:
    send(api)
    open_inbox(browser, sandbox)
    browser.wait_for("document.querySelectorAll('.message').length === 1")
    click = "document.getElementById('{}').click()"

    browser.evaluate(click.format("clear"))
    assert browser.evaluate("document.getElementById('confirm-clear').hidden") is False
    assert "Delete all 1 messages" in browser.evaluate(
        "document.getElementById('clear-question').textContent"
    )
    browser.evaluate(click.format("clear-cancel"))
    assert browser.evaluate("document.getElementById('confirm-clear').hidden") is True
    assert len(sandbox.messages()) == 1

    browser.evaluate(click.format("clear"))
    browser.evaluate(click.format("clear-confirm"))
    browser.wait_for("document.querySelectorAll('.message').length === 0")
    assert sandbox.messages() == []


def test_an_email_frame_is_as_tall_as_its_content(
    browser: Chromium, sandbox: SandboxServer
) -> None:
    open_inbox(browser, sandbox)
    short = send_email(sandbox, "Short", "<p>One line.</p>")
    tall = send_email(sandbox, "Tall", "".join(f"<p>Paragraph {n}</p>" for n in range(30)))
    for email_id in (short, tall):
        browser.wait_for(f"{card(email_id)}?.querySelector('iframe').dataset.loaded === 'true'")

    def heights(email_id: str) -> tuple[int, int]:
        frame = f"{card(email_id)}.querySelector('iframe')"
        shown = browser.evaluate(f"{frame}.getBoundingClientRect().height")
        content = browser.evaluate(f"{frame}.contentDocument.documentElement.scrollHeight")
        return round(shown), content

    short_shown, short_content = heights(short)
    tall_shown, tall_content = heights(tall)
    assert tall_shown > 3 * short_shown
    # The frame's box is its content plus its border.
    assert abs(tall_shown - tall_content) <= 4
    assert abs(short_shown - max(short_content, 40)) <= 4


def test_timeline_labels_pass_under_the_sticky_header(
    browser: Chromium, sandbox: SandboxServer, api: httpx.Client
) -> None:
    open_inbox(browser, sandbox)
    sids = [send(api, To=f"+1555000{n:04d}", Body=f"message {n}").json()["sid"] for n in range(8)]
    browser.wait_for(f"{card(sids[-1])}?.querySelectorAll('.step').length >= 2")
    label = f"{card(sids[-1])}.querySelector('.step-name')"
    # Scroll the newest message's first label up until it sits behind the header.
    browser.evaluate(
        f"window.scrollBy(0, {label}.getBoundingClientRect().top"
        " - document.querySelector('.topbar').getBoundingClientRect().height / 2)"
    )
    behind = browser.evaluate(
        f"(() => {{ const box = {label}.getBoundingClientRect();"
        " const bar = document.querySelector('.topbar').getBoundingClientRect();"
        " const y = box.top + box.height / 2;"
        " const hit = document.elementFromPoint(box.left + 4, y);"
        " return [y > bar.top && y < bar.bottom, hit.closest('.topbar') !== null]; })()"
    )
    assert behind == [True, True]


def test_the_page_says_it_is_loading_not_empty_until_the_first_page_is_in(
    browser: Chromium, sandbox: SandboxServer
) -> None:
    page = httpx.get(sandbox.url + "/").text
    assert '<section id="loading" class="empty loading" aria-live="polite">' in page
    assert '<section id="empty" class="empty" hidden>' in page

    open_inbox(browser, sandbox)
    browser.wait_for("document.getElementById('loading').hidden")
    assert browser.evaluate("document.getElementById('empty').hidden") is False


# -- 10,000 messages ---------------------------------------------------------------------

BULK = 10_000


def fill(sandbox: SandboxServer, count: int) -> None:
    """``count`` messages straight into the sandbox's records: SMS, emails and chat."""
    records = sandbox.records
    for n in range(count):
        to = f"+1555{n:07d}"
        if n % 3 == 0:
            draft = MessageDraft(to, "+15005550006", f"Your code is {n:06d}", None, None)
            records.create_message(draft)
        else:
            records.deliver(
                OutboxMessage(
                    id=f"bulk-{n}",
                    api="sendgrid" if n % 3 == 1 else "slack",
                    channel="email" if n % 3 == 1 else "chat",
                    at=records.clock.now(),
                    sender="alerts@example.com",
                    to=(f"user{n}@example.com" if n % 3 == 1 else "#alerts",),
                    provider_id=f"bulk-{n}",
                    subject=f"Receipt {n}" if n % 3 == 1 else None,
                    text=f"Message number {n}",
                )
            )


def search_for(browser: Chromium, text: str) -> None:
    browser.evaluate(
        "(() => { const box = document.getElementById('search');"
        f" box.value = {json.dumps(text)}; box.dispatchEvent(new Event('input')); }})()"
    )


def test_an_inbox_of_ten_thousand_messages_loads_a_page_searches_and_pages(
    browser: Chromium, sandbox: SandboxServer
) -> None:
    fill(sandbox, BULK)
    assert sandbox.records.inbox().counts["all"] == BULK

    started = time.perf_counter()
    browser.goto(sandbox.url + "/")
    browser.wait_for("document.querySelectorAll('.card').length > 0", timeout=30)
    first_cards = time.perf_counter() - started
    paint = browser.evaluate(
        "({fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,"
        " cards: performance.getEntriesByName('inbox-first-page')[0]?.startTime})"
    )
    print(
        f"\ninbox with {BULK:,} messages: first contentful paint {paint['fcp']:.0f} ms, "
        f"first page of cards {paint['cards']:.0f} ms after navigation "
        f"({first_cards * 1000:.0f} ms seen from the test)"
    )
    assert browser.evaluate("document.getElementById('stat-total').textContent") == str(BULK)
    assert browser.evaluate("document.querySelectorAll('.message').length") == 50

    # Search one recipient: the server finds it among 10,000.
    wanted = "+15550004242"
    search_for(browser, wanted)
    browser.wait_for("document.querySelectorAll('.message').length === 1")
    assert wanted in browser.evaluate("document.querySelector('.thread').innerText")
    assert browser.evaluate("document.getElementById('more').hidden") is True

    # Clear the search, then page: each page adds 50 older messages.
    search_for(browser, "")
    browser.wait_for("document.querySelectorAll('.message').length === 50")
    browser.evaluate("document.getElementById('more').click()")
    browser.wait_for("document.querySelectorAll('.message').length === 100")
    assert browser.evaluate("document.getElementById('shown').textContent") == (
        f"showing 100 of {BULK}"
    )
