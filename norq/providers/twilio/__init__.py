"""The built-in Twilio SMS provider, registered through the same hook as any plugin.

``TwilioProvider`` sends and queries messages, ``segment_info`` counts SMS
segments, ``norq.providers.twilio.signature`` checks ``X-Twilio-Signature``
and ``norq.providers.twilio.webhooks`` (``pip install 'norq[webhooks]'``)
receives status callbacks and inbound messages.
"""

from __future__ import annotations

from norq.hookspecs import hookimpl
from norq.providers.twilio.config import TwilioConfig
from norq.providers.twilio.errors import TWILIO_ERROR_CODES, normalised_error
from norq.providers.twilio.provider import TwilioProvider
from norq.providers.twilio.segments import SegmentInfo, count_segments, segment_info
from norq.register import Register

__all__ = [
    "TWILIO_ERROR_CODES",
    "SegmentInfo",
    "TwilioConfig",
    "TwilioProvider",
    "count_segments",
    "normalised_error",
    "segment_info",
]


@hookimpl
def register_providers(register: Register) -> None:
    register(TwilioProvider)
