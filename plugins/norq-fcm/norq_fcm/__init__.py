"""norq-fcm: push notifications through Firebase Cloud Messaging's HTTP v1 API.

It registers the provider type ``fcm`` (channel ``push``) through the
``norq`` entry-point group. See docs/providers/fcm.md.
"""

from __future__ import annotations

import norq
from norq_fcm.config import FcmConfig, ServiceAccount
from norq_fcm.credentials import GoogleOAuth2
from norq_fcm.errors import FCM_ERRORS
from norq_fcm.messages import FCM_TARGET
from norq_fcm.provider import FcmProvider

__version__ = "0.1.0"
__all__ = ["FCM_ERRORS", "FCM_TARGET", "FcmConfig", "FcmProvider", "GoogleOAuth2", "ServiceAccount"]


@norq.hookimpl
def register_providers(register: norq.Register) -> None:
    register(FcmProvider)
