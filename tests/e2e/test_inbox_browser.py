"""The sandbox inbox in a real headless Chromium: live updates without a reload.

Without Chromium this skips on a laptop, and fails under CI (CI=true), where
.ci/run installs Debian's chromium first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from norq.sandbox import DEFAULT_API_KEY_SECRET, DEFAULT_API_KEY_SID, SandboxServer
from tests.e2e.chromium import Chromium, find_chromium
from tests.sandbox.conftest import MESSAGES_PATH, send

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
    assert "+15558675310" in text
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
