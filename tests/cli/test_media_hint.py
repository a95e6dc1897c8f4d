"""The hint for a malformed media_urls shows the command line's syntax as well as Python's."""

from __future__ import annotations

from collections.abc import Callable

from tests.cli.conftest import Run

CONFIG = """\
providers:
  twilio:
    config:
      account_sid: AC11111111111111111111111111111111
      auth_token: a-long-auth-token
      from: "+15005550006"
routing: {sms: twilio}
"""


def test_a_single_media_url_gets_a_hint_in_cli_syntax(
    run: Run, write_config: Callable[..., str]
) -> None:
    result = run(
        "send", "sms", "--to", "+15551230001", "--body", "See attached", "--dry-run",
        "--field", "media_urls=https://example.com/a.png", "--config", write_config(CONFIG),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--field-json 'media_urls=[\"https://example.com/a.png\"]'" in result.stderr

    hinted = run(
        "send", "sms", "--to", "+15551230001", "--body", "See attached", "--dry-run",
        "--field-json", 'media_urls=["https://example.com/a.png"]', "--config",
        write_config(CONFIG),
    )  # fmt: skip
    assert hinted.exit_code == 0, hinted.output
    assert "MediaUrl=https://example.com/a.png" in hinted.stdout
