"""Slack's error names as Norq's normalised codes and what to do next.

``chat.postMessage`` answers HTTP 200 with ``{"ok": false, "error": name}``;
an incoming webhook answers an HTTP error status with the name as text. A
wrong channel or message fails everywhere (``final``); a token or workspace
problem is this provider's (``failover``); Slack's own trouble, a workspace
migration included, is ``retry``. ``internal_error`` and ``fatal_error`` are
Slack saying "some aspect of the operation may have succeeded": the message
may be posted, so they are ``outcome_unknown``, retried only when the policy
allows unconfirmed retries. An unknown name is ``final``: nothing says
another try helps.
"""

from __future__ import annotations

import norq

E = norq.ErrorCode
RETRY = norq.Disposition.RETRY
FAILOVER = norq.Disposition.FAILOVER
FINAL = norq.Disposition.FINAL


def _all(names: str, code: str, disposition: str) -> dict[str, tuple[str, str]]:
    return dict.fromkeys(names.split(), (code, disposition))


SLACK_ERRORS = norq.ErrorTable(
    {
        **_all("channel_not_found user_not_found", E.INVALID_RECIPIENT, FINAL),
        **_all("not_in_channel", E.PERMISSION_DENIED, FINAL),
        **_all("is_archived channel_is_archived", E.RECIPIENT_UNREACHABLE, FINAL),
        **_all("msg_too_long", E.MESSAGE_TOO_LONG, FINAL),
        **_all(
            "no_text too_many_attachments invalid_blocks invalid_blocks_format invalid_payload",
            E.INVALID_MESSAGE,
            FINAL,
        ),
        **_all(
            "invalid_auth not_authed account_inactive token_revoked token_expired no_service",
            E.INVALID_CREDENTIALS,
            FAILOVER,
        ),
        **_all(
            "missing_scope no_permission ekm_access_denied team_access_not_granted "
            "action_prohibited",
            E.PERMISSION_DENIED,
            FAILOVER,
        ),
        **_all("ratelimited rate_limited", E.RATE_LIMITED, RETRY),
        **_all(
            "service_unavailable request_timeout rollup_error "
            # The workspace is moving into an Enterprise org: back once it has.
            "org_login_required team_added_to_org",
            E.PROVIDER_UNAVAILABLE,
            RETRY,
        ),
        **_all("internal_error fatal_error", E.OUTCOME_UNKNOWN, FINAL),
    }
)
