"""What one running sandbox holds: its settings, its records, its journeys, limits and faults.

Every route reaches it through :func:`state_of`; nothing here knows which APIs
are emulated (:mod:`norq_sandbox.apis` lists them), so any API module may
import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request

from norq_sandbox.account_limits import AccountLimits
from norq_sandbox.clock import SandboxClock
from norq_sandbox.faults import FaultPlan, FaultSpecError
from norq_sandbox.journeys import Journeys
from norq_sandbox.push_accounts import PushAccounts
from norq_sandbox.records import Records
from norq_sandbox.settings import SandboxSettings


@dataclass(frozen=True, slots=True)
class SandboxState:
    """Everything one sandbox instance holds: settings, messages, faults, journeys.

    ``plans`` has one fault plan per emulated API (``twilio``, ``sendgrid``,
    ``vonage``, ``slack``, ``smtp``...); ``faults`` is Twilio's. ``push`` holds
    the keys and tokens of the push APIs (FCM, APNs, Web Push).
    """

    settings: SandboxSettings
    records: Records
    journeys: Journeys
    limits: AccountLimits
    plans: Mapping[str, FaultPlan]
    push: PushAccounts

    @property
    def faults(self) -> FaultPlan:
        return self.plans["twilio"]

    def plan(self, api: str) -> FaultPlan:
        """The fault plan of ``api``; FaultSpecError naming the choices if there is none."""
        try:
            return self.plans[api]
        except KeyError:
            raise FaultSpecError(
                f"no API called {api!r}: choose one of {', '.join(self.plans)}"
            ) from None

    @classmethod
    def create(cls, settings: SandboxSettings, plans: Mapping[str, FaultPlan]) -> SandboxState:
        records = Records(settings.account_sid, SandboxClock())
        journeys = Journeys(
            records,
            settings.auth_token,
            step_delay=settings.step_delay,
            undelivered=settings.undelivered,
            failed=settings.failed,
        )
        limits = AccountLimits(settings.rate_limit, settings.max_concurrent)
        return cls(settings, records, journeys, limits, dict(plans), PushAccounts())


def state_of(request: Request) -> SandboxState:
    """The state of the sandbox serving ``request``."""
    state: SandboxState = request.app.state.sandbox
    return state
