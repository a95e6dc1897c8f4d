"""The push accounts of one sandbox: the keys it hands out and the tokens it has seen.

A real push service issues the credentials an app signs with: Google a
service account key (RSA), Apple a ``.p8`` signing key (EC P-256), a browser
a subscription (an endpoint and the keys its payloads are encrypted for).
The sandbox plays all three, so it makes those keys itself, once per
sandbox, and checks every signature against them. It also remembers the
access tokens it issued, the provider tokens it accepted, and the
registrations it was told are gone, so tests can expire or revoke them.
"""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

FCM_PROJECT = "norq-sandbox"
FCM_CLIENT_EMAIL = "norq@norq-sandbox.iam.gserviceaccount.com"
APNS_KEY_ID = "SANDBOXKEY"
APNS_TEAM_ID = "NORQTEAM01"
#: An FCM registration token starting with this is answered ``UNREGISTERED``.
FCM_UNREGISTERED_PREFIX = "unregistered"
#: An APNs device token starting with this is answered ``410 Unregistered``.
APNS_UNREGISTERED_PREFIX = "deadbeef"
#: Where this sandbox's Web Push service takes pushes: ``/wpush/<subscription id>``.
WEBPUSH_PREFIX = "/wpush/"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True, repr=False)
class Subscription:
    """A browser's push subscription: the sandbox holds its private key to decrypt."""

    id: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    def public_key(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)


def subscription_json(base_url: str, subscription: Subscription) -> dict[str, Any]:
    """A subscription as a browser's ``PushSubscription.toJSON()`` gives it to a server."""
    return {
        "endpoint": f"{base_url}{WEBPUSH_PREFIX}{subscription.id}",
        "expirationTime": None,
        "keys": {"p256dh": subscription.public_key(), "auth": b64url(subscription.auth_secret)},
    }


@dataclass
class PushAccounts:
    """Keys made on first use, and the tokens and registrations the push APIs track."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    revoked: set[str] = field(default_factory=set)
    provider_tokens: set[str] = field(default_factory=set)  # APNs tokens accepted so far
    expired_provider_tokens: set[str] = field(default_factory=set)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)  # tokens and subscription ids unregistered

    @cached_property
    def fcm_key(self) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @cached_property
    def fcm_key_id(self) -> str:
        return secrets.token_hex(20)

    @cached_property
    def apns_key(self) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def fcm_service_account(self, token_uri: str) -> dict[str, Any]:
        """The service account key file Google would let you download, for this sandbox."""
        with self._lock:
            key_id = self.fcm_key_id
            pem = self.fcm_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")
            return {
                "type": "service_account",
                "project_id": FCM_PROJECT,
                "private_key_id": key_id,
                "private_key": pem,
                "client_email": FCM_CLIENT_EMAIL,
                "client_id": "100000000000000000001",
                "token_uri": token_uri,
            }

    def fcm_public_key(self) -> rsa.RSAPublicKey:
        with self._lock:
            return self.fcm_key.public_key()

    def apns_public_key(self) -> ec.EllipticCurvePublicKey:
        with self._lock:
            return self.apns_key.public_key()

    def apns_signing_key(self) -> str:
        """The ``AuthKey_<KEYID>.p8`` text Apple would let you download, for this sandbox."""
        with self._lock:
            return self.apns_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")

    def issue_access_token(self, expires_at: float) -> str:
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        with self._lock:
            self.access_tokens[token] = expires_at
        return token

    def access_token_valid(self, token: str, now: float) -> bool:
        with self._lock:
            expiry = self.access_tokens.get(token)
            return expiry is not None and token not in self.revoked and now < expiry

    def accept_provider_token(self, token: str) -> bool:
        """Note an APNs provider token whose signature checked; False if it was expired."""
        with self._lock:
            if token in self.expired_provider_tokens:
                return False
            self.provider_tokens.add(token)
            return True

    def expire_tokens(self) -> None:
        """Every FCM access token issued and APNs provider token seen so far is now refused."""
        with self._lock:
            self.revoked.update(self.access_tokens)
            self.expired_provider_tokens.update(self.provider_tokens)

    def subscribe(self) -> Subscription:
        subscription = Subscription(
            id=secrets.token_urlsafe(16),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=secrets.token_bytes(16),
        )
        with self._lock:
            self.subscriptions[subscription.id] = subscription
        return subscription

    def subscription(self, id: str) -> Subscription | None:
        with self._lock:
            return self.subscriptions.get(id)

    def unregister(self, token: str) -> None:
        """From now on, a push to ``token`` (FCM, APNs) or subscription id (Web Push) is gone."""
        with self._lock:
            self.gone.add(token)

    def is_gone(self, token: str) -> bool:
        with self._lock:
            return token in self.gone

    def reset(self) -> None:
        with self._lock:
            self.access_tokens.clear()
            self.revoked.clear()
            self.provider_tokens.clear()
            self.expired_provider_tokens.clear()
            self.gone.clear()
