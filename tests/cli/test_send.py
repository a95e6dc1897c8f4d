"""``norq send`` to --to recipients: output, receipts, data, config discovery, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Run, fake_config_text
from tests.cli.loopback import FakeApi

ANN = "+15551230001"
BOB = "+15551230002"


def test_send_delivers_and_prints_provider_message_id_and_attempts(
    run: Run, fake_config: str, api: FakeApi
) -> None:
    result = run("send", "sms", "--to", ANN, "--body", "Disk full", "--config", fake_config)
    assert result.exit_code == 0, result.output
    sid = next(iter(api.messages))
    assert result.stdout == f"delivered {ANN} via fakesms: {sid} (1 attempt)\n"
    assert api.messages[sid]["body"] == "Disk full"


def test_one_failed_recipient_exits_1_and_the_others_are_still_sent(
    run: Run, fake_config: str, api: FakeApi
) -> None:
    api.rejected.add(BOB)
    result = run("send", "sms", "--to", ANN, "--to", BOB, "--body", "hi", "--config", fake_config)
    assert result.exit_code == 1
    first, second = result.stdout.splitlines()
    assert first.startswith(f"delivered {ANN}")
    assert second.startswith(f"failed    {BOB} via fakesms: invalid_recipient: The 'To' number")
    assert api.posts == 2


def test_a_malformed_to_address_is_a_usage_error_and_nothing_is_sent(
    run: Run, fake_config: str, api: FakeApi
) -> None:
    result = run("send", "sms", "--to", ANN, "--to", "555", "--body", "hi", "--config", fake_config)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --to 555: ")
    assert "E.164" in result.stderr
    assert api.posts == 0


def test_json_prints_one_receipt_per_line(run: Run, fake_config: str, api: FakeApi) -> None:
    api.rejected.add(BOB)
    result = run(
        "send", "sms", "--to", ANN, "--to", BOB, "--body", "hi", "--json", "--config", fake_config
    )
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["row"], line["to"], line["ok"]) for line in lines] == [
        (1, ANN, True),
        (2, BOB, False),
    ]
    assert lines[0]["message_id"] in api.messages
    assert lines[0]["attempts"] == 1
    assert lines[1]["error"]["code"] == "invalid_recipient"


def test_template_data_from_json_file_and_pairs_with_pairs_winning(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps({"service": "Billing", "name": "from-json"}))
    result = run(
        "send", "sms", "--to", ANN, "--template", "outage",
        "--data-json", str(data_file), "--data", "name=Ann", "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [m["body"] for m in api.messages.values()] == ["Billing is down, Ann"]


def test_data_json_reads_stdin(run: Run, fake_config: str, api: FakeApi) -> None:
    result = run(
        "send", "sms", "--to", ANN, "--template", "outage", "--data-json", "-",
        "--config", fake_config, input='{"service": "Web", "name": "Bo"}',
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [m["body"] for m in api.messages.values()] == ["Web is down, Bo"]


def test_a_missing_template_variable_is_bad_input_and_nothing_is_sent(
    run: Run, fake_config: str, api: FakeApi
) -> None:
    result = run(
        "send", "sms", "--to", ANN, "--template", "outage", "--data", "service=Web",
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "template 'outage' (sms.body) needs 'name'" in result.stderr
    assert api.posts == 0


def test_provider_option_overrides_the_routing(run: Run, fake_config: str, api: FakeApi) -> None:
    result = run(
        "send", "sms", "--to", ANN, "--body", "local", "--provider", "console",
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "[norq console] sms -> +15551230001" in result.stdout
    assert f"delivered {ANN} via console" in result.stdout
    assert api.posts == 0


def test_receipts_are_written_for_to_recipients(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    out = tmp_path / "receipts.jsonl"
    api.rejected.add(BOB)
    result = run(
        "send", "sms", "--to", ANN, "--to", BOB, "--body", "hi",
        "--receipts", str(out), "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 1
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(line["row"], line["ok"]) for line in lines] == [(1, True), (2, False)]


def test_connect_failure_is_a_failed_receipt(
    run: Run, fakesms: None, write_config: Callable[..., str]
) -> None:
    config = write_config(fake_config_text("http://127.0.0.1:9"), "down.yaml")
    result = run("send", "sms", "--to", ANN, "--body", "hi", "--config", config)
    assert result.exit_code == 1
    assert "connect_error" in result.stdout


# -- config discovery ------------------------------------------------------------


def test_config_from_norq_config_variable(
    run: Run, fake_config: str, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NORQ_CONFIG", fake_config)
    result = run("send", "sms", "--to", ANN, "--body", "hi")
    assert result.exit_code == 0, result.output
    assert api.posts == 1


def test_config_from_norq_yaml_in_the_working_directory(
    run: Run, fakesms: None, api: FakeApi, tmp_path: Path
) -> None:
    (tmp_path / "norq.yaml").write_text(fake_config_text(api.url))
    result = run("send", "sms", "--to", ANN, "--body", "hi")
    assert result.exit_code == 0, result.output
    assert api.posts == 1


def test_config_from_environment_variables_only(
    run: Run, fakesms: None, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NORQ_FAKESMS_BASE_URL", api.url)
    monkeypatch.setenv("NORQ_FAKESMS_KEY_SECRET", "env-secret")
    result = run("send", "sms", "--to", ANN, "--body", "hi")
    assert result.exit_code == 0, result.output
    assert api.posts == 1


def test_config_option_beats_norq_config_variable(
    run: Run, fake_config: str, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NORQ_CONFIG", "/nonexistent/norq.yaml")
    result = run("send", "sms", "--to", ANN, "--body", "hi", "--config", fake_config)
    assert result.exit_code == 0, result.output


# -- usage and config errors: exit 2, one line, no traceback ---------------------


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["send", "fax", "--to", ANN, "--body", "hi"], "channel 'fax' is not routed"),
        (["send", "sms", "--to", ANN], "has no content"),
        (["send", "sms", "--to", ANN, "--body", "a", "--template", "outage"], "not both"),
        (["send", "sms", "--to", ANN, "--template", "nope"], "nope"),
        (["send", "sms", "--to", ANN, "--body", "a", "--provider", "zz"], "unknown provider 'zz'"),
        (["send", "sms", "--body", "hi"], "give recipients with --to, --csv or --retry-failed"),
        (["send", "sms", "--to", ANN, "--body", "hi", "--format", "curl"], "--format applies"),
        (["send", "sms", "--to", ANN, "--body", "hi", "--show-secrets"], "--show-secrets applies"),
        (["send", "sms", "--to", ANN, "--body", "hi", "--data", "a=b"], "--data fills"),
        (["send", "sms", "--to", ANN, "--template", "outage", "--data", "ab"], "KEY=VALUE"),
        (["send", "sms", "--to", ANN, "--body", "hi", "--concurrency", "4"], "--concurrency"),
        (["send", "sms", "--to", ANN, "--body", "hi", "--to-column", "x"], "--to-column applies"),
        (["send", "sms", "--to", ANN, "--body", "hi", "--progress", "none"], "--progress applies"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    run: Run, fake_config: str, api: FakeApi, args: list[str], expected: str
) -> None:
    result = run(*args, "--config", fake_config)
    assert result.exit_code == 2, result.output
    assert expected in _one_error_line(result.stderr)
    assert api.posts == 0


def test_dry_run_with_receipts_is_a_usage_error(run: Run, fake_config: str, tmp_path: Path) -> None:
    result = run(
        "send", "sms", "--to", ANN, "--body", "hi", "--dry-run",
        "--receipts", str(tmp_path / "r.jsonl"), "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 2
    assert "writes no --receipts" in result.stderr


def test_to_and_csv_together_are_a_usage_error(run: Run, fake_config: str, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("to\n+15551230001\n")
    result = run(
        "send", "sms", "--to", ANN, "--csv", str(rows), "--body", "hi", "--config", fake_config
    )
    assert result.exit_code == 2
    assert "not --to and --csv" in result.stderr


def test_data_json_must_hold_an_object(run: Run, fake_config: str, tmp_path: Path) -> None:
    data_file = tmp_path / "data.json"
    data_file.write_text("[1, 2]")
    result = run(
        "send", "sms", "--to", ANN, "--template", "outage", "--data-json", str(data_file),
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 2
    assert "expected a JSON object, got list" in result.stderr


def test_data_json_must_be_json(run: Run, fake_config: str, tmp_path: Path) -> None:
    data_file = tmp_path / "data.json"
    data_file.write_text("{nope")
    result = run(
        "send", "sms", "--to", ANN, "--template", "outage", "--data-json", str(data_file),
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr


def test_missing_config_file_is_one_line_exit_2(run: Run) -> None:
    result = run("send", "sms", "--to", ANN, "--body", "hi", "--config", "missing.yaml")
    assert result.exit_code == 2
    assert _one_error_line(result.stderr) == "Error: missing.yaml: config file not found"


def test_invalid_config_is_one_line_naming_the_file_and_counting_the_rest(
    run: Run, write_config: Callable[..., str]
) -> None:
    path = write_config("providers:\n  x: {type: nope}\nrouting: {sms: zz}\nfoo: 1\n")
    result = run("send", "sms", "--to", ANN, "--body", "hi", "--config", path)
    assert result.exit_code == 2
    line = _one_error_line(result.stderr)
    assert line.startswith(f"Error: {path}: foo: unknown top-level key")
    assert "(and 2 more; `norq config check` lists them all)" in line


def test_yaml_syntax_error_names_file_and_line(run: Run, write_config: Callable[..., str]) -> None:
    path = write_config("providers:\n  a: [\n")
    result = run("send", "sms", "--to", ANN, "--body", "hi", "--config", path)
    assert result.exit_code == 2
    assert _one_error_line(result.stderr).startswith(f"Error: {path}:3:")


def test_debug_shows_the_traceback_and_keeps_the_exit_status(run: Run, fake_config: str) -> None:
    result = run("--debug", "send", "fax", "--to", ANN, "--body", "hi", "--config", fake_config)
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("Error: channel 'fax'")


def test_unexpected_errors_are_one_line_with_a_hint(
    run: Run, fake_config: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import norq.app

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(norq.app.Norq, "send_many", broken)
    result = run("send", "sms", "--to", ANN, "--body", "hi", "--config", fake_config)
    assert result.exit_code == 1
    assert _one_error_line(result.stderr) == (
        "Error: unexpected RuntimeError: boom second line "
        "(run `norq --debug ...` for the traceback)"
    )


# -- logging -----------------------------------------------------------------------


@pytest.fixture
def retrying_config(fakesms: None, api: FakeApi, write_config: Callable[..., str]) -> str:
    text = fake_config_text(api.url).replace("{max_retries: 0}", "{max_retries: 1, backoff: 0}")
    return write_config(text, "retrying.yaml")


def test_retries_are_logged_as_warnings(run: Run, retrying_config: str, api: FakeApi) -> None:
    api.unavailable.add(ANN)
    result = run("send", "sms", "--to", ANN, "--body", "hi", "--config", retrying_config)
    assert result.exit_code == 0, result.output
    assert "(2 attempts)" in result.stdout
    assert result.stderr.startswith("norq: WARNING: POST ")
    assert "HTTP 503 on attempt 1; retrying" in result.stderr


def test_debug_logs_with_timestamps(run: Run, retrying_config: str, api: FakeApi) -> None:
    api.unavailable.add(ANN)
    result = run("--debug", "send", "sms", "--to", ANN, "--body", "hi", "--config", retrying_config)
    assert result.exit_code == 0, result.output
    assert " WARNING norq: POST " in result.stderr


def test_bulk_sends_do_not_log_each_retry(
    run: Run, retrying_config: str, api: FakeApi, tmp_path: Path
) -> None:
    api.unavailable.add(ANN)
    rows = tmp_path / "rows.csv"
    rows.write_text(f"to\n{ANN}\n")
    result = run(
        "send", "sms", "--csv", str(rows), "--body", "hi", "--progress", "none",
        "--config", retrying_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_field_options_reach_the_provider_as_per_message_options(
    run: Run, console_config: str
) -> None:
    result = run(
        "send", "chat", "--to", "ann", "--body", "hi", "--config", console_config,
        "--field", "subject=Hello", "--field", "tag=a", "--field", "tag=b",
        "--field-json", 'media_urls=["https://x.test/a.png"]',
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "  subject: Hello" in result.stdout
    assert "  tag: ['a', 'b']" in result.stdout
    assert "  media_urls: ['https://x.test/a.png']" in result.stdout


def test_field_json_that_is_not_json_is_a_usage_error(run: Run, console_config: str) -> None:
    result = run(
        "send", "chat", "--to", "ann", "--body", "hi", "--config", console_config,
        "--field-json", "media_urls=[oops",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--field-json" in result.stderr
    assert "media_urls: not valid JSON" in result.stderr


def test_an_option_the_provider_does_not_know_is_refused(
    run: Run, fake_config: str, api: FakeApi
) -> None:
    result = run(
        "send", "sms", "--to", ANN, "--body", "hi", "--config", fake_config,
        "--field", "subjekt=x",
    )  # fmt: skip
    assert result.exit_code != 0
    assert "'subjekt'" in result.stderr
    assert api.requests == []
