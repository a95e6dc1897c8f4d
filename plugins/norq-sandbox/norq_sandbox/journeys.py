"""Status progression and signed status callbacks, as Twilio sends them.

Each accepted message walks ``queued → sending → sent → delivered`` (or ends
``undelivered`` / ``failed`` for chosen recipients), one step every
``step_delay`` seconds; a scheduled message first waits, ``scheduled``, until
its ``SendAt`` on the sandbox clock, unless it is canceled. Every step is
POSTed to the message's ``StatusCallback`` with an ``X-Twilio-Signature`` made
from the sandbox's auth token, so a webhook receiver can be tested end to end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Collection, Coroutine
from typing import TYPE_CHECKING, Any

from norq_sandbox.records import Records
from norq_sandbox.signature import twilio_signature
from norq_sandbox.twilio_resources import (
    API_VERSION,
    FAILED_ERROR,
    UNDELIVERED_ERROR,
    SandboxMessage,
)

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("norq_sandbox")

CALLBACK_TIMEOUT = 5.0


def journey(to: str, undelivered: Collection[str], failed: Collection[str]) -> list[str]:
    """The statuses a message to ``to`` passes through after it is queued."""
    if to in failed:
        return ["sending", "failed"]
    if to in undelivered:
        return ["sending", "sent", "undelivered"]
    return ["sending", "sent", "delivered"]


def callback_params(message: SandboxMessage, now: dt.datetime) -> list[tuple[str, str]]:
    """The form fields of a status callback for the message's current status."""
    draft = message.draft
    params = [
        ("AccountSid", message.account_sid),
        ("ApiVersion", API_VERSION),
        ("MessageSid", message.sid),
        ("MessageStatus", message.status),
        ("SmsSid", message.sid),
        ("SmsStatus", message.status),
        ("To", draft.to),
    ]
    # Through a Messaging Service, From is the number the service picked.
    if message.sender:
        params.append(("From", message.sender))
    if draft.messaging_service_sid:
        params.append(("MessagingServiceSid", draft.messaging_service_sid))
    if message.error_code is not None:
        params.append(("ErrorCode", str(message.error_code)))
    if message.status in ("delivered", "undelivered"):
        params.append(("RawDlrDoneDate", now.strftime("%y%m%d%H%M")))
    return params


class Journeys:
    """Runs every accepted message's journey on the server's event loop."""

    def __init__(
        self,
        records: Records,
        auth_token: str,
        *,
        step_delay: float,
        undelivered: Collection[str],
        failed: Collection[str],
    ) -> None:
        self._store = records
        self._auth_token = auth_token
        self.step_delay = step_delay
        self._undelivered = frozenset(undelivered)
        self._failed = frozenset(failed)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None

    def start(self, message: SandboxMessage) -> None:
        """Begin the message's journey in the background."""
        self._spawn(message.sid, self._run(message))

    def canceled(self, message: SandboxMessage) -> None:
        """Stop a canceled message's journey and report ``canceled`` to its callback."""
        journey = self._tasks.pop(message.sid, None)
        if journey is not None:
            journey.cancel()
        self._spawn(message.sid, self._notify(message))

    def _spawn(self, sid: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks[sid] = task
        task.add_done_callback(lambda done: self._forget(sid, done))

    def _forget(self, sid: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(sid) is task:
            del self._tasks[sid]

    async def _run(self, message: SandboxMessage) -> None:
        try:
            await self._notify(message)
            if message.status == "scheduled":
                assert message.draft.send_at is not None
                await self._store.clock.sleep_until(message.draft.send_at)
                current = self._store.get(message.sid)
                if current is None or current.status != "scheduled":
                    return
                released = self._store.advance(message.sid, "queued")
                if released is None:
                    return
                await self._notify(released)
            elif message.status == "accepted":
                await asyncio.sleep(self.step_delay)
                advanced = self._store.advance(message.sid, "queued")
                if advanced is None:
                    return
                await self._notify(advanced)
            for status in journey(message.draft.to, self._undelivered, self._failed):
                await asyncio.sleep(self.step_delay)
                error = {"undelivered": UNDELIVERED_ERROR, "failed": FAILED_ERROR}.get(status)
                advanced = self._store.advance(message.sid, status, error)
                if advanced is None:
                    return
                await self._notify(advanced)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the journey of %s stopped", message.sid)

    async def _notify(self, message: SandboxMessage) -> None:
        url = message.draft.status_callback
        if url is None:
            return
        params = callback_params(message, self._store.now())
        headers = {
            "X-Twilio-Signature": twilio_signature(self._auth_token, url, params),
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "User-Agent": "TwilioProxy/1.1 (norq sandbox)",
        }
        client = self._client or self._open()
        try:
            response = await client.post(url, data=dict(params), headers=headers)
        except Exception as exc:  # any failure to reach the receiver is reported, not raised
            outcome = f"error: {type(exc).__name__}"
            logger.info("status callback to %s failed: %s", url, exc)
        else:
            outcome = str(response.status_code)
        self._store.note_callback(message.sid, message.status, outcome)

    def _open(self) -> httpx.AsyncClient:
        import httpx

        self._client = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        """Stop every journey and close the callback client."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
