"""What norq-sandbox adds to Norq through its hooks: the ``norq sandbox`` command.

Norq loads this module with every plugin, so it imports nothing of the
sandbox: the command's module loads only when ``norq sandbox`` runs.
"""

from __future__ import annotations

import norq

SUMMARY = "Run local stand-ins for Twilio, SendGrid, Vonage, Slack, SMTP."


@norq.hookimpl
def register_commands(register: norq.RegisterCommand) -> None:
    register("sandbox", "norq_sandbox.cli:sandbox", SUMMARY)
