"""A CSV's header is checked against the template before the first row is sent."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Run
from tests.cli.loopback import FakeApi

ANN = "+15551230001"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "people.csv"
    path.write_text(text)
    return str(path)


def test_a_column_the_template_needs_is_refused_before_anything_is_sent(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    people = write(tmp_path, f"to,first_name\n{ANN},Ann\n")
    result = run(
        "send", "sms", "--csv", people, "--template", "outage", "--data", "service=API",
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: invalid value for --csv: {people}: the template needs 'name', which the "
        "header does not name (columns: to, first_name); add the column to the file, or give "
        "the same value to every row with --data name=VALUE\n"
    )
    assert api.posts == 0


def test_data_given_on_the_command_line_fills_what_the_header_lacks(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    people = write(tmp_path, f"to,name\n{ANN},Ann\n")
    result = run(
        "send", "sms", "--csv", people, "--template", "outage", "--data", "service=API",
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert api.posts == 1


def test_a_file_separated_by_semicolons_is_refused_up_front(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    people = write(tmp_path, f"to;name;service\n{ANN};Ann;API\n")
    result = run(
        "send", "sms", "--csv", people, "--template", "outage", "--config", fake_config
    )  # fmt: skip
    assert result.exit_code == 2
    assert "the header is one column, 'to;name;service'" in result.stderr
    assert "separates its columns with semicolons" in result.stderr
    assert "save it as CSV with commas" in result.stderr
    assert api.posts == 0


def test_a_tab_separated_file_is_refused_too(
    run: Run, fake_config: str, api: FakeApi, tmp_path: Path
) -> None:
    people = write(tmp_path, f"to\tname\n{ANN}\tAnn\n")
    result = run("send", "sms", "--csv", people, "--body", "hi", "--config", fake_config)
    assert result.exit_code == 2
    assert "separates its columns with tabs" in result.stderr
    assert api.posts == 0
