"""norq-apns: push notifications through the Apple Push Notification service.

It registers the provider type ``apns`` (channel ``push``) through the
``norq`` entry-point group. See docs/providers/apns.md.
"""

from __future__ import annotations

import norq
from norq_apns.config import ApnsConfig
from norq_apns.credentials import ProviderToken
from norq_apns.errors import APNS_ERRORS
from norq_apns.messages import DEVICE_TOKEN
from norq_apns.provider import ApnsProvider

__version__ = "0.1.0"
__all__ = ["APNS_ERRORS", "DEVICE_TOKEN", "ApnsConfig", "ApnsProvider", "ProviderToken"]


@norq.hookimpl
def register_providers(register: norq.Register) -> None:
    register(ApnsProvider)
