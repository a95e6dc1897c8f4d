"""The dry run: the exact request, as HTTP or curl, with no secret and no connection."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from norq import dryrun
from norq.redaction import Redactor
from norq.request import BasicAuth, PreparedRequest
from tests.cli.conftest import Run
from tests.cli.fakesms import FAKE_KEY_SECRET, FAKE_TOKEN
from tests.cli.loopback import FakeApi

ANN = "+15551230001"
SECRETS = (FAKE_KEY_SECRET, FAKE_TOKEN)


def _leaks(text: str) -> list[str]:
    """Every form in which a test secret could show up, that does show up."""
    basic = base64.b64encode(f"KEY123:{FAKE_KEY_SECRET}".encode()).decode()
    forms = {basic}
    for secret in SECRETS:
        forms |= {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    return sorted(form for form in forms if form in text)


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Fail the test if anything tries to open a network connection."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise AssertionError(f"a dry run tried to connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_http_form_shows_method_url_headers_and_decoded_body(
    run: Run, fake_config: str, api: FakeApi, no_connections: list[object]
) -> None:
    result = run(
        "send", "sms", "--to", ANN, "--body", "Disk full\non db1", "--dry-run",
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"# sms to {ANN} via fakesms\n"
        "# segments: 1\n"
        f"POST {api.url}/messages\n"
        "X-Token: ***\n"
        "Content-Type: application/x-www-form-urlencoded\n"
        "Authorization: ***\n"
        "\n"
        f"To={ANN}\n"
        "From=+15005550006\n"
        "Body=Disk full\\non db1\n"
    )
    assert no_connections == []
    assert api.requests == []


def test_curl_form_is_a_command_with_secrets_masked(
    run: Run, fake_config: str, api: FakeApi, no_connections: list[object]
) -> None:
    result = run(
        "send", "sms", "--to", ANN, "--body", "it's down", "--dry-run", "--format", "curl",
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"# sms to {ANN} via fakesms\n"
        "# segments: 1\n"
        f"curl {api.url}/messages \\\n"
        "  --user 'KEY123:***' \\\n"
        "  -H 'X-Token: ***' \\\n"
        "  -H 'Content-Type: application/x-www-form-urlencoded' \\\n"
        f"  --data-urlencode To={ANN} \\\n"
        "  --data-urlencode From=+15005550006 \\\n"
        "  --data-urlencode 'Body=it'\"'\"'s down'\n"
    )


@pytest.mark.parametrize("fmt", ["http", "curl"])
def test_no_secret_in_dry_run_output_in_any_encoding(
    run: Run, fake_config: str, fmt: str, no_connections: list[object]
) -> None:
    # The body itself quotes a secret, as a careless template might.
    result = run(
        "send", "sms", "--to", ANN, "--body", f"key {FAKE_KEY_SECRET} {FAKE_TOKEN}",
        "--dry-run", "--format", fmt, "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _leaks(result.output) == []
    assert "***" in result.stdout


def test_json_dry_run_is_redacted_too(run: Run, fake_config: str) -> None:
    result = run(
        "send", "sms", "--to", ANN, "--body", FAKE_TOKEN, "--dry-run", "--json",
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)
    assert line["provider"] == "fakesms"
    assert line["notes"] == {"segments": "1"}
    assert line["request"]["method"] == "POST"
    assert line["request"]["headers"]["Authorization"] == "***"
    assert line["request"]["body"][2] == ["Body", "***"]
    assert _leaks(result.output) == []


def test_show_secrets_prints_the_real_request_and_warns(run: Run, fake_config: str) -> None:
    result = run(
        "send", "sms", "--to", ANN, "--body", "hi", "--dry-run", "--format", "curl",
        "--show-secrets", "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"--user 'KEY123:{FAKE_KEY_SECRET}'" in result.stdout
    assert f"X-Token: {FAKE_TOKEN}" in result.stdout
    assert "contains credentials" in result.stderr


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_curl_command_sends_the_same_request(run: Run, fake_config: str, api: FakeApi) -> None:
    body = "it's 100% down & out\nsee https://status.test/?a=b+c"
    result = run(
        "send", "sms", "--to", ANN, "--body", body, "--dry-run", "--format", "curl",
        "--show-secrets", "--config", fake_config,
    )  # fmt: skip
    subprocess.run(
        ["bash", "-c", result.stdout.rstrip() + " --silent --show-error"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    [message] = api.messages.values()
    assert (message["to"], message["body"]) == (ANN, body)
    expected = base64.b64encode(f"KEY123:{FAKE_KEY_SECRET}".encode()).decode()
    assert api.authorizations == [f"Basic {expected}"]


def test_long_body_shows_its_segment_count(run: Run, fake_config: str) -> None:
    result = run(
        "send", "sms", "--to", ANN, "--body", "x" * 400, "--dry-run", "--config", fake_config
    )
    assert "# segments: 3" in result.stdout


def test_template_is_rendered_in_the_dry_run(run: Run, fake_config: str) -> None:
    result = run(
        "send", "sms", "--to", ANN, "--template", "outage", "--data", "service=DNS",
        "--data", "name=Ann", "--dry-run", "--config", fake_config,
    )  # fmt: skip
    assert "Body=DNS is down, Ann" in result.stdout


def test_bad_row_in_a_dry_run_is_reported_and_exits_1(
    run: Run, fake_config: str, no_connections: list[object], tmp_path: Path
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(f"to\n555\n{ANN}\n")
    result = run(
        "send", "sms", "--csv", str(people), "--body", "hi", "--dry-run", "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout.startswith("# row 1: 555: not sent: invalid_recipient: ")
    assert f"# sms to {ANN} via fakesms" in result.stdout


def test_bad_row_in_a_json_dry_run(run: Run, fake_config: str, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("to\n555\n")
    result = run(
        "send", "sms", "--csv", str(people), "--body", "hi", "--dry-run", "--json",
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "invalid_recipient"


def test_a_malformed_to_address_in_a_dry_run_is_a_usage_error(
    run: Run, fake_config: str, no_connections: list[object]
) -> None:
    result = run(
        "send", "sms", "--to", "555", "--to", ANN, "--body", "hi", "--dry-run",
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: --to 555: ")


def test_dry_run_of_a_csv_prints_every_row(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path, no_connections: list[object]
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(f"to,name\n{ANN},Ann\n+15551230002,Bob\n")
    result = run(
        "send", "sms", "--csv", str(rows), "--template", "outage", "--data", "service=VPN",
        "--dry-run", "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Body=VPN is down, Ann" in result.stdout
    assert "Body=VPN is down, Bob" in result.stdout
    assert api.requests == []


@pytest.mark.parametrize(
    ("config_text", "command"),
    [
        ("providers:\n  console: {}\nrouting:\n  chat: console\n", "'chat', '--to', 'ann'"),
        (
            "providers:\n  twilio:\n    config:\n      account_sid: AC" + "0" * 32 + "\n"
            "      auth_token: tok\n      from: '+15005550006'\nrouting:\n  sms: twilio\n",
            "'sms', '--to', '+15551234567'",
        ),
    ],
)
def test_dry_run_imports_no_http_client_and_no_jinja_without_templates(
    tmp_path: Path, config_text: str, command: str
) -> None:
    # What start-up time is made of (docs/performance.md): none of these is
    # needed to show a request. pydantic is (it validates the config), and with
    # it importlib.metadata, which pluggy and pydantic use to find plugins.
    config = tmp_path / "norq.yaml"
    config.write_text(config_text)
    script = (
        "import sys\n"
        "from norq.cli import main\n"
        f"main(['send', {command}, '--body', 'hi', '--dry-run', '--format', 'curl',"
        f" '--config', {str(config)!r}], standalone_mode=False)\n"
        "heavy = [m for m in ('httpx', 'aiohttp', 'jinja2', 'rich', 'asyncio', 'jsonschema',"
        " 'norq.executor') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines()[-1] == "HEAVY []"


@pytest.mark.parametrize("option", ["--version", "--help"])
def test_version_and_help_import_only_click(option: str) -> None:
    # Start-up targets (docs/performance.md): neither loads pydantic or a provider.
    # --help lists the commands from one-line summaries, importing none of them.
    commands = "'norq.cli.send', 'norq.cli.check', 'norq_sandbox', "
    script = (
        "import sys\n"
        "from norq.cli import main\n"
        "try:\n"
        f"    main([{option!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('pydantic', 'httpx', 'jinja2', 'yaml', 'pluggy', 'rich',"
        f" 'norq.app', {commands}'norq.provider', 'norq.config', 'importlib.metadata')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines()[-1] == "HEAVY []"


# -- norq.dryrun on its own --------------------------------------------------------

REDACTOR = Redactor(["s3cr3t&x", 'quo"te'])


def test_json_body_is_pretty_printed_and_secrets_inside_json_escapes_are_masked() -> None:
    request = PreparedRequest(
        method="POST", url="https://api.test/v1", json={"text": 'a quo"te', "n": 1}
    )
    text = dryrun.render_http(request, REDACTOR)
    assert text == (
        "POST https://api.test/v1\n"
        "Content-Type: application/json\n"
        "\n"
        '{\n  "text": "a ***",\n  "n": 1\n}'
    )
    assert "quo" not in dryrun.render_curl(request, REDACTOR)


def test_raw_content_is_shown_as_text_when_it_is_utf8_else_by_its_size() -> None:
    text = PreparedRequest(
        method="POST",
        url="https://api.test/v1",
        headers=(("Content-Type", "text/plain"),),
        content='a quo"te, déjà'.encode(),
    )
    assert dryrun.render_http(text, REDACTOR).endswith("\n\na ***, déjà")
    assert dryrun.render_curl(text, REDACTOR).endswith("--data-binary 'a ***, déjà'")
    assert dryrun.as_dict(text, REDACTOR)["body"] == "a ***, déjà"
    binary = PreparedRequest(method="PUT", url="https://api.test/v1", content=b"\xff\x00\x01")
    assert dryrun.render_http(binary, None).endswith("\n\n<3 bytes>")
    assert binary.body_bytes() == b"\xff\x00\x01"
    with pytest.raises(ValueError, match="one body: form, json or content"):
        PreparedRequest(method="POST", url="https://api.test", json={}, content=b"x")


def test_secret_in_the_query_string_is_masked_percent_encoded() -> None:
    request = PreparedRequest(method="GET", url="https://api.test/v1", query=(("key", "s3cr3t&x"),))
    assert dryrun.render_http(request, REDACTOR) == "GET https://api.test/v1?key=***"
    assert dryrun.render_curl(request, REDACTOR) == "curl 'https://api.test/v1?key=***'"


def test_curl_names_the_method_only_when_curl_would_not_infer_it() -> None:
    get = PreparedRequest(method="GET", url="https://a.test/x")
    delete = PreparedRequest(method="DELETE", url="https://a.test/x")
    put = PreparedRequest(method="PUT", url="https://a.test/x", form=(("a", "b"),))
    assert dryrun.render_curl(get, None) == "curl https://a.test/x"
    assert dryrun.render_curl(delete, None) == "curl -X DELETE https://a.test/x"
    assert "-X PUT" in dryrun.render_curl(put, None)


def test_without_a_redactor_the_request_is_shown_verbatim() -> None:
    request = PreparedRequest(
        method="POST", url="https://a.test", form=(("k", "v"),), auth=BasicAuth("u", "pw")
    )
    token = base64.b64encode(b"u:pw").decode()
    assert f"Authorization: Basic {token}" in dryrun.render_http(request, None)
    assert "--user u:pw" in dryrun.render_curl(request, None)
    assert dryrun.as_dict(request, None)["headers"]["Authorization"] == f"Basic {token}"


def test_render_adds_comments_and_masks_them() -> None:
    request = PreparedRequest(method="GET", url="https://a.test")
    text = dryrun.render(request, REDACTOR, fmt="http", comments=["note s3cr3t&x"])
    assert text == "# note ***\nGET https://a.test"


def test_output_cut_short_by_the_reader_ends_quietly(tmp_path: Path) -> None:
    config = tmp_path / "norq.yaml"
    config.write_text("providers:\n  console: {}\nrouting:\n  chat: console\n")
    rows = tmp_path / "rows.csv"
    rows.write_text("to\n" + "".join(f"user{n}\n" for n in range(20_000)))
    norq = Path(sys.executable).parent / "norq"
    args = ["send", "chat", "--csv", rows, "--body", "hi", "--dry-run", "--config", config]
    with subprocess.Popen(
        [norq, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.readline() == "# chat to user0 via console\n"
        process.stdout.close()  # like `| head -1`
        assert process.wait(timeout=60) == 141
        assert process.stderr.read() == ""
