"""Every API the sandbox emulates over HTTP, in one place.

To emulate another provider, write a module that builds an
:class:`~norq_sandbox.emulated.EmulatedApi` (its paths, routes, fault answers
and log user) and add it to :data:`APIS`; it then gets its own fault plan,
request log entries and a place in ``--fault API=SPEC``. The SMTP server is
not HTTP and sits beside these (:mod:`norq_sandbox.smtp`).
"""

from __future__ import annotations

from norq_sandbox import apns, fcm, sendgrid, slack, smtp, telegram, twilio, vonage, webpush
from norq_sandbox.emulated import EmulatedApi
from norq_sandbox.faults import FaultPlan

APIS: tuple[EmulatedApi, ...] = (
    twilio.API,
    sendgrid.API,
    vonage.API,
    slack.API,
    telegram.API,
    fcm.API,
    apns.API,
    webpush.API,
)


def api_for(path: str) -> EmulatedApi | None:
    """The API that owns ``path``, if any."""
    return next((api for api in APIS if api.serves(path)), None)


def fault_plans() -> dict[str, FaultPlan]:
    """A fresh fault plan for every emulated API and the SMTP server, by name."""
    plans = {api.name: FaultPlan(api.name, api.faults) for api in APIS}
    plans[smtp.NAME] = FaultPlan(smtp.NAME, smtp.SMTP_FAULTS)
    return plans
