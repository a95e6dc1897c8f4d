"""No secret of a plugin provider shows in any output: reprs, dry runs, CLI, logs, receipts.

One row per provider type in ``CASES``; every test runs for every row. A
provider whose secret travels in the body (Vonage), a header (SendGrid,
Slack) or the URL itself (Slack's incoming webhooks) is checked the same way.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import respx
import yaml

import norq
from tests.cli.conftest import Run


@dataclass(frozen=True)
class Case:
    type: str
    channel: str
    to: str
    config: dict[str, Any]
    #: Config values (with its keys) that must never show.
    secrets: tuple[str, ...]
    #: Where requests go, for respx and for an unreachable host.
    url: str
    #: An answer that refuses the credentials, in the provider's own words.
    refusal: httpx.Response
    fields: dict[str, str] = field(default_factory=dict)


HOOK_TOKEN = "HOOKtokenSECRET42"
CASES = {
    case.type: case
    for case in (
        Case(
            type="vonage",
            channel="sms",
            to="+447700900001",
            config={"api_key": "vk3yPLAIN", "api_secret": "vonage-SECRET/+=x", "from": "Norq"},
            secrets=("vk3yPLAIN", "vonage-SECRET/+=x"),
            url="https://rest.nexmo.com/sms/json",
            refusal=httpx.Response(
                200, json={"messages": [{"status": "4", "error-text": "Bad Credentials"}]}
            ),
        ),
        Case(
            type="sendgrid",
            channel="email",
            to="ada@example.com",
            config={"api_key": "SG.sendgrid-SECRET/+=x", "from": "shop@example.com"},
            secrets=("SG.sendgrid-SECRET/+=x",),
            url="https://api.sendgrid.com/v3/mail/send",
            refusal=httpx.Response(401, json={"errors": [{"message": "bad key", "field": None}]}),
            fields={"subject": "Hello"},
        ),
        Case(
            type="slack",
            channel="chat",
            to="#alerts",
            config={"bot_token": "xoxb-slack-SECRET/+=x"},
            secrets=("xoxb-slack-SECRET/+=x",),
            url="https://slack.com/api/chat.postMessage",
            refusal=httpx.Response(200, json={"ok": False, "error": "invalid_auth"}),
        ),
        Case(
            type="slack_webhook",
            channel="chat",
            to="#alerts",
            config={"webhook_url": f"https://hooks.slack.com/services/T1/B1/{HOOK_TOKEN}"},
            secrets=(f"https://hooks.slack.com/services/T1/B1/{HOOK_TOKEN}", HOOK_TOKEN),
            url=f"https://hooks.slack.com/services/T1/B1/{HOOK_TOKEN}",
            refusal=httpx.Response(404, text="no_service"),
        ),
    )
}


def leaks(case: Case, text: str) -> list[str]:
    """Every form of a secret of ``case`` that shows in ``text``."""
    forms = set()
    for secret in case.secrets:
        forms |= {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
        forms.add(base64.b64encode(secret.encode()).decode())
    return sorted(form for form in forms if form in text)


def document(case: Case, **config: Any) -> dict[str, Any]:
    return {
        "providers": {
            "p": {
                "type": case.type,
                "config": {**case.config, **config},
                "retry": {"max_retries": 1, "backoff": 0},
            }
        },
        "routing": {case.channel: "p"},
    }


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


def write(tmp_path: Any, doc: dict[str, Any]) -> str:
    path = tmp_path / "norq.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def send_args(case: Case, config: str, *extra: str) -> list[str]:
    args = ["send", case.channel, "--to", case.to, "--body", "hello", "--config", config]
    for key, value in case.fields.items():
        args += ["--field", f"{key}={value}"]
    return [*args, *extra]


def test_reprs_hide_the_secrets(case: Case) -> None:
    app = norq.Norq.from_dict(document(case), environ={})
    provider = app.providers["p"]
    prepared = app.prepare(case.channel, case.to, body="hello", **case.fields)
    shown = [repr(app), repr(provider), repr(provider.config), str(provider.config)]
    shown += [repr(prepared.request), repr(prepared)]
    assert [leaks(case, text) for text in shown] == [[]] * len(shown)
    assert sorted(provider.secret_values()) == sorted(
        s for s in case.secrets if s in case.config.values()
    )


@pytest.mark.parametrize("how", [["--format", "http"], ["--format", "curl"], ["--json"]])
def test_the_dry_run_hides_the_secrets(case: Case, run: Run, tmp_path: Any, how: list[str]) -> None:
    result = run(*send_args(case, write(tmp_path, document(case)), "--dry-run", *how))
    assert result.exit_code == 0, result.output
    assert "***" in result.stdout
    assert leaks(case, result.output) == []


def test_show_secrets_is_the_only_way_to_see_them(case: Case, run: Run, tmp_path: Any) -> None:
    config = write(tmp_path, document(case))
    result = run(*send_args(case, config, "--dry-run", "--format", "curl", "--show-secrets"))
    assert result.exit_code == 0, result.output
    assert leaks(case, result.stdout)


def test_config_check_and_providers_hide_the_secrets(case: Case, run: Run, tmp_path: Any) -> None:
    checked = run("config", "check", write(tmp_path, document(case)))
    assert checked.exit_code == 0, checked.output
    assert "p: type " + case.type in checked.stdout
    listed = run("providers")
    assert case.type in listed.stdout
    assert leaks(case, checked.output + listed.output) == []


@respx.mock
def test_refusals_and_retries_log_no_secret(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    respx.post(case.url).mock(side_effect=[httpx.Response(503, text="busy"), case.refusal])
    app = norq.Norq.from_dict(document(case), environ={})
    with pytest.raises(norq.DeliveryError) as caught:
        app.notify(case.channel, case.to, body="hello", **case.fields)
    receipt = caught.value.receipt
    assert receipt.error is not None
    assert receipt.error.disposition == "failover"
    assert caplog.records, "the retry should have been logged"
    shown = [caplog.text, str(caught.value), repr(receipt), json.dumps(receipt.to_dict())]
    assert [leaks(case, text) for text in shown] == [[]] * len(shown)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_provider_leaks_nothing_on_the_command_line(
    case: Case, run: Run, tmp_path: Any
) -> None:
    unreachable = f"http://127.0.0.1:{closed_port()}"
    if case.type == "slack_webhook":
        overrides = {"webhook_url": f"{unreachable}/services/T1/B1/{HOOK_TOKEN}"}
    else:
        overrides = {"base_url": unreachable}
    doc = document(case, **overrides)
    result = run("--debug", *send_args(case, write(tmp_path, doc), "--json"))
    assert result.exit_code == 1, result.output
    assert "connect_error" in result.stdout
    assert leaks(case, result.output) == []


def test_config_errors_do_not_echo_a_misplaced_secret(case: Case) -> None:
    secret = case.secrets[0]
    doc = document(case)
    doc["providers"]["p"]["config"]["misspelt_key"] = secret
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict(doc, environ={})
    assert leaks(case, str(caught.value) + repr(caught.value.errors)) == []
