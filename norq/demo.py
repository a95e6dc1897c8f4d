"""``make demo``: one notification, end to end, on this machine only.

Starts the sandbox (port 8765, or a free one if it is taken), points the
example config's Twilio provider at it through ``NORQ_TWILIO_BASE_URL``, sends
the ``otp`` template with ``notify()``, then prints the receipt and the
sandbox's copy of the message. On a terminal it keeps the sandbox up until
Enter so the inbox can be opened; without one (CI, pipes) it stops at once.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from norq.app import Norq
from norq.errors import DeliveryError, NorqError
from norq.sandbox.server import DEFAULT_PORT, SandboxServer

RECIPIENT = "+15558675310"
TEMPLATE_DATA = {"app": "Norq", "code": "428913"}
FINAL_STATUSES = ("delivered", "undelivered", "failed")


def example_config() -> Path:
    """The repository's ``norq.example.yaml`` (next to the package, else in the cwd)."""
    for candidate in (Path(__file__).resolve().parent.parent, Path.cwd()):
        path = candidate / "norq.example.yaml"
        if path.is_file():
            return path
    raise SystemExit("norq.example.yaml not found: run the demo from the repository root")


def demo_environment(base_url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the example config is read with.

    Real ``TWILIO_*`` credentials are left out so the demo can never send a
    real SMS, and Twilio's base URL points at the sandbox.
    """
    kept = {name: value for name, value in environ.items() if not name.startswith("TWILIO_")}
    kept["NORQ_TWILIO_BASE_URL"] = base_url
    return kept


def _section(title: str) -> None:
    print(f"\n── {title} " + "─" * max(0, 60 - len(title)))


def main() -> int:
    interactive = sys.stdin.isatty() and not os.environ.get("CI")
    config_path = example_config()
    with SandboxServer(port=DEFAULT_PORT, fallback=True, step_delay=0.2) as sandbox:
        os.environ["NORQ_TWILIO_BASE_URL"] = sandbox.url
        print(f"Norq sandbox running at {sandbox.url} (a local stand-in for Twilio)")
        print(f"Config: {config_path.name}, with NORQ_TWILIO_BASE_URL={sandbox.url}")
        try:
            with Norq.from_yaml(
                config_path, environ=demo_environment(sandbox.url, os.environ)
            ) as app:
                print(f"Sending the 'otp' template by SMS to {RECIPIENT} via notify()...")
                receipt = app.notify("sms", RECIPIENT, template="otp", data=TEMPLATE_DATA)
        except DeliveryError as exc:
            _section("Delivery failed")
            print(json.dumps(exc.receipt.to_dict(), indent=2))
            return 1
        except NorqError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

        _section("Receipt")
        print(json.dumps(receipt.to_dict(), indent=2))

        assert receipt.message_id is not None
        message = sandbox.wait_for_status(receipt.message_id, FINAL_STATUSES, timeout=10)
        _section("The sandbox's copy of the message")
        print(json.dumps(message.resource(), indent=2))
        print("Status timeline:")
        start = message.timeline[0].at
        for step in message.timeline:
            offset = (step.at - start).total_seconds()
            print(f"  +{offset:5.2f}s  {step.status}")

        _section("Inbox")
        print(f"Open {sandbox.url}/ to see the message in the sandbox's web inbox.")
        print("Run `norq sandbox` to keep a sandbox running for your own app.")
        if interactive:
            try:
                input("\nPress Enter to stop the sandbox... ")
            except (EOFError, KeyboardInterrupt):
                print()
    print("Sandbox stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
