"""norq-vonage: SMS through Vonage's legacy SMS API, as a separately installed Norq plugin.

It registers the provider type ``vonage`` (channel ``sms``) through the
``norq`` entry-point group. See docs/providers/vonage.md.
"""

from __future__ import annotations

import norq
from norq_vonage.config import VonageConfig
from norq_vonage.encoding import encoding
from norq_vonage.provider import VonageProvider, read_answer
from norq_vonage.statuses import VONAGE_STATUSES

__version__ = "0.1.0"
__all__ = ["VONAGE_STATUSES", "VonageConfig", "VonageProvider", "encoding", "read_answer"]


@norq.hookimpl
def register_providers(register: norq.Register) -> None:
    register(VonageProvider)
