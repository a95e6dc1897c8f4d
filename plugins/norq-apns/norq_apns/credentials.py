"""The provider token APNs requires: a JWT the team's key signs (ES256), renewed within the hour.

APNs refuses a token older than an hour (``ExpiredProviderToken``) and one
renewed more often than every 20 minutes (``TooManyProviderTokenUpdates``),
so a token is declared to last 50 minutes: Norq's executor mints one, uses
it for every send of the instance from any thread or event loop, and mints
the next a minute before that. Minting needs no request; it is still the
executor's, so ``prepare_send`` stays pure and the token never shows.
"""

from __future__ import annotations

import json

import jwt

import norq

#: Seconds a token is used: under APNs' hour, over its 20-minute floor.
LIFETIME = 50 * 60


class ProviderToken(norq.TokenSource):
    """ES256 provider tokens for one signing key."""

    def __init__(self, key: str, key_id: str, team_id: str) -> None:
        self._key = key
        self._key_id = key_id
        self._team_id = team_id

    def prepare_token(self, now: float) -> norq.Token:
        claims = {"iss": self._team_id, "iat": int(now)}
        value = jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self._key_id})
        return norq.Token(value, now + LIFETIME)

    def refused(self, response: norq.Response) -> bool:
        # APNs answers 403 for a stale token; a new one is all it takes.
        return response.status == 403 and _reason(response.body) == "ExpiredProviderToken"

    def __repr__(self) -> str:
        return f"<ProviderToken key {self._key_id}, team {self._team_id}>"


def _reason(body: bytes) -> str | None:
    try:
        reason = json.loads(body).get("reason")
    except (ValueError, AttributeError):
        return None
    return reason if isinstance(reason, str) else None
