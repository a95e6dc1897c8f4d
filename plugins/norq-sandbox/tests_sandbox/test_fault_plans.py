"""Each emulated API has its own fault plan, reachable from Python, the admin API and the CLI."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner
from norq_sandbox import SandboxServer
from norq_sandbox.cli import sandbox as sandbox_command


@pytest.mark.parametrize("api", ["twilio", "sendgrid", "vonage", "slack", "smtp"])
def test_every_api_has_a_plan_of_its_own(sandbox: SandboxServer, api: str) -> None:
    sandbox.faults_for(api).add("503", count=2)

    snapshots = {
        name: httpx.get(f"{sandbox.url}/_sandbox/faults", params={"api": name}).json()
        for name in ("twilio", "sendgrid", "vonage", "slack", "smtp")
    }

    assert {name: s["queued"] for name, s in snapshots.items() if s["queued"]} == {
        api: ["503", "503"]
    }


def test_the_admin_api_adds_and_clears_one_apis_faults(sandbox: SandboxServer) -> None:
    added = httpx.post(
        f"{sandbox.url}/_sandbox/faults", json={"api": "vonage", "fault": "body-error", "count": 2}
    )
    assert added.json()["queued"] == ["body-error", "body-error"]

    cleared = httpx.delete(f"{sandbox.url}/_sandbox/faults", params={"api": "vonage"})

    assert cleared.json()["queued"] == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"api": "fax", "fault": "503"}, "no API called 'fax'"),
        ({"api": "twilio", "fault": "body-error"}, "twilio cannot suffer 'body-error'"),
        ({"api": "smtp", "fault": "body-error"}, "smtp cannot suffer 'body-error'"),
    ],
)
def test_the_admin_api_refuses_what_an_api_cannot_suffer(
    sandbox: SandboxServer, payload: dict[str, str], message: str
) -> None:
    response = httpx.post(f"{sandbox.url}/_sandbox/faults", json=payload)

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_reset_clears_every_plan(sandbox: SandboxServer) -> None:
    sandbox.faults_for("slack").add("429")
    sandbox.faults_for("smtp").add("drop")

    httpx.post(f"{sandbox.url}/_sandbox/reset")

    assert sandbox.faults_for("slack").snapshot()["queued"] == []
    assert sandbox.faults_for("smtp").snapshot()["queued"] == []


def test_the_cli_names_the_api_before_an_equals_sign() -> None:
    result = CliRunner().invoke(sandbox_command, ["--port", "0", "--fault", "fax=503"])

    assert result.exit_code == 2
    assert "no API called 'fax'" in result.output
