"""``make demo``: one notification per channel, end to end, on this machine only.

Starts the sandbox (port 8765, or a free one if it is taken), points the
example config's Twilio provider at it through ``NORQ_TWILIO_BASE_URL``, sends
the ``otp`` template by SMS with ``notify()``, then an email through the
sandbox's SMTP server (the norq-smtp plugin), a chat message through its
Slack API (the norq-slack plugin) and a push through its FCM (the norq-fcm
plugin, signing in with the service account the sandbox issues), and prints
every receipt and the sandbox's copy of the SMS. On a terminal it keeps the
sandbox up until Enter and points at the inbox; without one (CI, pipes) it is
a smoke run: it says how to see the inbox instead of offering a URL that is
gone when it exits.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from norq import DeliveryError, Norq, NorqError, Receipt
from norq_sandbox.server import DEFAULT_PORT, SandboxServer

RECIPIENT = "+15558675310"
EMAIL_RECIPIENT = "ada@example.com"
CHAT_RECIPIENT = "#alerts"
# An FCM registration token, as an Android app gets one; the sandbox takes any well-formed one.
PUSH_RECIPIENT = "demo-device-registration-token-0123456789"
TEMPLATE_DATA = {"app": "Norq", "code": "428913"}
FINAL_STATUSES = ("delivered", "undelivered", "failed")


def example_config() -> Path:
    """Norq's ``norq.example.yaml``: in the current directory, else in the repository
    this package sits in (plugins/norq-sandbox/norq_sandbox/)."""
    for candidate in (Path.cwd(), *Path(__file__).resolve().parents):
        path = candidate / "norq.example.yaml"
        if path.is_file():
            return path
    raise SystemExit("norq.example.yaml not found: run the demo from Norq's repository root")


def demo_environment(base_url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the example config is read with.

    Real ``TWILIO_*`` credentials are left out so the demo can never send a
    real SMS, and Twilio's base URL points at the sandbox.
    """
    kept = {name: value for name, value in environ.items() if not name.startswith("TWILIO_")}
    kept["NORQ_TWILIO_BASE_URL"] = base_url
    return kept


def demo_document(config_path: Path, sandbox: SandboxServer) -> dict[str, Any]:
    """The example config plus an SMTP, a Slack and an FCM provider, all on the sandbox.

    They are added here rather than in ``norq.example.yaml`` so the example
    keeps working on an install without the email, chat and push plugins.
    """
    document: dict[str, Any] = dict(yaml.safe_load(config_path.read_text("utf-8")) or {})
    providers = dict(document.get("providers") or {})
    providers["smtp"] = {
        "config": {
            "host": sandbox.smtp_host,
            "port": sandbox.smtp_port,
            "security": "none",
            "sender": "norq-demo@example.com",
        }
    }
    providers["slack"] = {"config": {"bot_token": "xoxb-sandbox-token", "base_url": sandbox.url}}
    providers["fcm"] = {
        "config": {
            "service_account": json.dumps(sandbox.fcm_service_account()),
            "base_url": sandbox.url,
        }
    }
    document["providers"] = providers
    routing = {"email": "smtp", "chat": "slack", "push": "fcm"}
    document["routing"] = {**(document.get("routing") or {}), **routing}
    templates = dict(document.get("templates") or {})
    otp = dict(templates.get("otp") or {})
    otp["email"] = {
        "subject": "Your {{ app }} code",
        "body": "Your {{ app }} code is {{ code }}. It expires in 10 minutes.",
        "html": "<p>Your {{ app }} code is <strong>{{ code }}</strong>.</p>",
    }
    otp["chat"] = {"body": "A {{ app }} sign-in code was sent to a user."}
    otp["push"] = {"title": "{{ app }}", "body": "Your {{ app }} code is {{ code }}."}
    templates["otp"] = otp
    document["templates"] = templates
    return document


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
            with Norq.from_dict(
                demo_document(config_path, sandbox),
                environ=demo_environment(sandbox.url, os.environ),
                base_dir=config_path.parent,
            ) as app:
                print(f"Sending the 'otp' template by SMS to {RECIPIENT} via notify()...")
                receipt = app.notify("sms", RECIPIENT, template="otp", data=TEMPLATE_DATA)
                print(f"Sending it by email to {EMAIL_RECIPIENT} (SMTP)...")
                email = app.notify("email", EMAIL_RECIPIENT, template="otp", data=TEMPLATE_DATA)
                print(f"Sending a chat alert to {CHAT_RECIPIENT} (Slack)...")
                chat = app.notify("chat", CHAT_RECIPIENT, template="otp", data=TEMPLATE_DATA)
                print("Sending it as a push to an Android device (FCM)...")
                push = app.notify("push", PUSH_RECIPIENT, template="otp", data=TEMPLATE_DATA)
        except DeliveryError as exc:
            _section("Delivery failed")
            print(json.dumps(exc.receipt.to_dict(), indent=2))
            return 1
        except NorqError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

        _print_receipt("SMS receipt", receipt)
        _print_receipt("Email receipt", email)
        _print_receipt("Chat receipt", chat)
        _print_receipt("Push receipt", push)

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
        if interactive:
            print(f"Open {sandbox.url}/ to see the four messages in the sandbox's web inbox.")
            print("Run `norq sandbox` to keep a sandbox running for your own app.")
            try:
                input("\nPress Enter to stop the sandbox... ")
            except (EOFError, KeyboardInterrupt):
                print()
            print("Sandbox stopped.")
        else:
            # Nobody can open the inbox before this process ends, so do not offer it.
            print("Not run from a terminal, so the demo ends here and its sandbox with it.")
            print("To browse the inbox, run `make demo` in a terminal, or `norq sandbox`.")
    return 0


def _print_receipt(title: str, receipt: Receipt) -> None:
    _section(title)
    print(json.dumps(receipt.to_dict(), indent=2))


if __name__ == "__main__":
    sys.exit(main())
