"""APNs' error reasons as Norq's normalised codes and what to do next.

APNs answers a failure with an HTTP status and ``{"reason": "BadDeviceToken"}``
(a 410 adds the ``timestamp`` at which the token stopped being valid). A
device token that is wrong or gone is ``final``: ``BadDeviceToken`` (a
token from the other environment, or cut short), ``Unregistered`` and
``ExpiredToken`` (the app was removed). The team's key and the app's topic
are this provider's configuration (``failover``).
"""

from __future__ import annotations

import norq

E = norq.ErrorCode
RETRY = norq.Disposition.RETRY
FAILOVER = norq.Disposition.FAILOVER
FINAL = norq.Disposition.FINAL


def _all(reasons: str, code: str, disposition: str) -> dict[str, tuple[str, str]]:
    return dict.fromkeys(reasons.split(), (code, disposition))


APNS_ERRORS = norq.ErrorTable(
    {
        **_all(
            "BadDeviceToken DeviceTokenNotForTopic MissingDeviceToken", E.INVALID_RECIPIENT, FINAL
        ),
        **_all("Unregistered ExpiredToken", E.RECIPIENT_UNREACHABLE, FINAL),
        **_all(
            "BadCollapseId BadExpirationDate BadMessageId BadPriority DuplicateHeaders "
            "InvalidPushType PayloadEmpty",
            E.INVALID_MESSAGE,
            FINAL,
        ),
        **_all("PayloadTooLarge", E.MESSAGE_TOO_LONG, FINAL),
        **_all("BadTopic MissingTopic TopicDisallowed", E.INVALID_SENDER, FAILOVER),
        **_all(
            "BadCertificate BadCertificateEnvironment ExpiredProviderToken InvalidProviderToken "
            "MissingProviderToken UnrelatedKeyIdInToken BadEnvironmentKeyInToken",
            E.INVALID_CREDENTIALS,
            FAILOVER,
        ),
        **_all("Forbidden", E.PERMISSION_DENIED, FAILOVER),
        **_all("BadPath MethodNotAllowed", E.NOT_FOUND, FAILOVER),
        **_all("TooManyRequests TooManyProviderTokenUpdates", E.RATE_LIMITED, RETRY),
        **_all(
            "IdleTimeout InternalServerError ServiceUnavailable Shutdown",
            E.PROVIDER_UNAVAILABLE,
            RETRY,
        ),
    }
)

APNS_ERROR_FORMAT = APNS_ERRORS.error_format(code_path="$.reason", message_path="$.reason")
