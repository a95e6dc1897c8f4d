"""norq-webpush: push messages to browsers through their push services (Web Push).

It registers the provider type ``webpush`` (channel ``push``) and the
``webpush`` transport, which encrypts each message for its subscription,
through the ``norq`` entry-point group. See docs/providers/webpush.md.
"""

from __future__ import annotations

import norq
from norq_webpush.config import WebPushConfig
from norq_webpush.errors import WEBPUSH_ERRORS
from norq_webpush.provider import WebPushProvider
from norq_webpush.subscription import SUBSCRIPTION, Subscription
from norq_webpush.transport import WebPushRequest, WebPushTransport
from norq_webpush.vapid import VapidToken

__version__ = "0.1.0"
__all__ = [
    "SUBSCRIPTION",
    "WEBPUSH_ERRORS",
    "Subscription",
    "VapidToken",
    "WebPushConfig",
    "WebPushProvider",
    "WebPushRequest",
    "WebPushTransport",
]


@norq.hookimpl
def register_providers(register: norq.Register) -> None:
    register(WebPushProvider)


@norq.hookimpl
def register_transports(register: norq.RegisterTransport) -> None:
    register("webpush", WebPushTransport)
