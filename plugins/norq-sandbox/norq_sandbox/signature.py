"""``X-Twilio-Signature`` for the status callbacks the sandbox sends, computed here.

Twilio's documented scheme: an HMAC-SHA1, keyed with the auth token, over the
full callback URL followed by each POST field's name and value, in the order
of the names; the digest is base64. The sandbox signs with its own code, not
Norq's, so Norq's webhook validator is checked against an independent signer
(and the tests check this one against twilio-python's ``RequestValidator``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def twilio_signature(auth_token: str, url: str, fields: Iterable[tuple[str, str]]) -> str:
    """The signature Twilio would put on a POST of ``fields`` to ``url``."""
    signed = url + "".join(name + value for name, value in sorted(fields))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")
