"""The sandbox's memory: messages, the request log, and who is watching for changes.

The server's event loop writes and a test's thread reads, so every access
holds one lock and readers get copies. Watchers (the inbox's event streams)
are asyncio queues fed with ``call_soon_threadsafe``, so a change made from
any thread reaches them on their own loop.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from norq_sandbox.clock import SandboxClock
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.segments import count_parts
from norq_sandbox.twilio_resources import (
    MessageDraft,
    SandboxMessage,
    StatusStep,
    TwilioError,
    new_message_sid,
)

Event = tuple[str, Any]
# The statuses the inbox counts as still moving, delivered, or not delivered.
PENDING = frozenset({"scheduled", "accepted", "queued", "sending", "sent"})
NOT_DELIVERED = frozenset(
    {"failed", "undelivered", "canceled"}
)  # ("message", inbox view) | ("reset", None); None ends a stream


def _snapshot(message: SandboxMessage) -> SandboxMessage:
    # Everything in a message is immutable but its timeline list.
    return replace(message, timeline=list(message.timeline))


@dataclass(slots=True)
class LoggedRequest:
    """One API request the sandbox received, and what it did with it.

    ``status`` is the HTTP status answered (``None`` while in flight or when
    the connection was dropped; an SMTP reply code for mail), ``fault`` the
    injected fault if any, ``message_sid`` the id of the message it created,
    ``api`` the emulated API it was for and ``body_json`` its JSON body, if
    any. Secrets in ``params`` and ``body_json`` are masked.
    """

    index: int
    at: dt.datetime
    method: str
    path: str
    query: str
    params: dict[str, list[str]]
    username: str | None
    fault: str | None = None
    status: int | None = None
    dropped: bool = False
    message_sid: str | None = None
    api: str = "twilio"
    body_json: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "at": self.at.isoformat(),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "params": self.params,
            "username": self.username,
            "fault": self.fault,
            "status": self.status,
            "dropped": self.dropped,
            "message_sid": self.message_sid,
            "api": self.api,
            "json": self.body_json,
        }


def message_id(message: SandboxMessage | OutboxMessage) -> str:
    return message.sid if isinstance(message, SandboxMessage) else message.id


def _created(message: SandboxMessage | OutboxMessage) -> dt.datetime:
    if isinstance(message, SandboxMessage):
        return message.timeline[0].at if message.timeline else message.date_created
    return message.at


def _status(message: SandboxMessage | OutboxMessage) -> str:
    """A Twilio message's status; what another API accepted counts as delivered."""
    return message.status if isinstance(message, SandboxMessage) else "delivered"


def _channel(message: SandboxMessage | OutboxMessage) -> str:
    return "sms" if isinstance(message, SandboxMessage) else message.channel


def _api(message: SandboxMessage | OutboxMessage) -> str:
    return "twilio" if isinstance(message, SandboxMessage) else message.api


def _searchable(message: SandboxMessage | OutboxMessage) -> str:
    """Recipients, sender, ids, subject and text, lower-case, for the inbox's search."""
    if isinstance(message, SandboxMessage):
        draft = message.draft
        parts = [draft.to, message.sender or "", message.sid, draft.body]
    else:
        parts = [*message.to, message.sender or "", message.id, message.provider_id]
        parts += [message.subject or "", message.text or ""]
    return "\n".join(parts).lower()


def _counts(messages: list[SandboxMessage | OutboxMessage]) -> dict[str, int]:
    counts = {"all": len(messages), "sms": 0, "email": 0, "chat": 0, "push": 0}
    counts |= {"delivered": 0, "pending": 0, "failed": 0}
    for message in messages:
        channel = _channel(message)
        counts[channel] = counts.get(channel, 0) + 1
        status = _status(message)
        if status == "delivered":
            counts["delivered"] += 1
        elif status in PENDING:
            counts["pending"] += 1
        elif status in NOT_DELIVERED:
            counts["failed"] += 1
    return counts


@dataclass(frozen=True, slots=True)
class InboxQuery:
    """What the inbox asks for: a search, filters, and where the page starts.

    ``search`` matches, ignoring case, a recipient, the sender, an id, the
    subject or the text; ``channel``, ``api`` and ``status`` match exactly
    (``status`` ``delivered`` includes what the other APIs accepted,
    ``pending`` and ``failed`` the statuses the summary groups so). ``before``
    is the id of the last message of the previous page.
    """

    search: str = ""
    channel: str | None = None
    api: str | None = None
    status: str | None = None
    before: str | None = None
    limit: int = 100

    def matches(self, message: SandboxMessage | OutboxMessage) -> bool:
        if self.channel is not None and _channel(message) != self.channel:
            return False
        if self.api is not None and _api(message) != self.api:
            return False
        if self.status is not None:
            status = _status(message)
            groups = {"pending": PENDING, "failed": NOT_DELIVERED}
            if status not in groups.get(self.status, {self.status}):
                return False
        return not self.search or self.search.lower() in _searchable(message)


@dataclass(frozen=True, slots=True)
class InboxPage:
    """One page of the inbox: ``matching`` counts every match, ``counts`` the whole inbox;
    ``next`` is the ``before`` of the next page, None on the last."""

    messages: list[dict[str, Any]]
    matching: int
    counts: dict[str, int]
    next: str | None


@dataclass(slots=True)
class _Watcher:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)


class Records:
    """Messages by sid (newest last), the request log, and change notifications."""

    def __init__(self, account_sid: str, clock: SandboxClock | None = None) -> None:
        self.account_sid = account_sid
        self.clock = clock or SandboxClock()
        self._lock = threading.Lock()
        self._messages: dict[str, SandboxMessage] = {}
        self._outbox: dict[str, OutboxMessage] = {}
        self._requests: list[LoggedRequest] = []
        self._request_count = 0
        self._watchers: list[_Watcher] = []

    # -- messages -------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The sandbox clock's time, to the second, as Twilio's dates show it."""
        return self.clock.now().replace(microsecond=0)

    def create_message(
        self, draft: MessageDraft, service_sender: str | None = None
    ) -> SandboxMessage:
        """Records a new message; ``service_sender`` is the ``From`` its Messaging Service picks."""
        now = self.now()
        if draft.send_at is not None:
            status = "scheduled"
        else:
            status = "queued" if draft.sender else "accepted"
        message = SandboxMessage(
            sid=new_message_sid(with_media=bool(draft.media_urls)),
            account_sid=self.account_sid,
            draft=draft,
            num_segments=count_parts(draft.body),
            date_created=now,
            status=status,
            date_updated=now,
            timeline=[StatusStep(status, self.clock.now())],
            service_sender=None if draft.sender else service_sender,
        )
        with self._lock:
            self._messages[message.sid] = message
            snapshot = _snapshot(message)
        self._publish(("message", snapshot.inbox_view()))
        return snapshot

    def advance(
        self, sid: str, status: str, error: tuple[int, str] | None = None
    ) -> SandboxMessage | None:
        """Move a message to ``status``; ``None`` if it is gone (the records was reset)."""
        with self._lock:
            message = self._messages.get(sid)
            if message is None:
                return None
            message.status = status
            message.date_updated = self.now()
            if status == "sent":
                message.date_sent = message.date_updated
            if error is not None:
                message.error_code, message.error_message = error
            message.timeline.append(StatusStep(status, self.clock.now()))
            message.version += 1
            snapshot = _snapshot(message)
        self._publish(("message", snapshot.inbox_view()))
        return snapshot

    def update(self, sid: str, *, cancel: bool, redact: bool) -> SandboxMessage | None:
        """Twilio's message update: cancel a scheduled message, redact a body, or both.

        ``None`` if there is no such message; :class:`TwilioError` 30409 when
        asked to cancel a message that is no longer ``scheduled``.
        """
        with self._lock:
            message = self._messages.get(sid)
            if message is None:
                return None
            if cancel and message.status != "scheduled":
                raise TwilioError(
                    400,
                    30409,
                    f"This message cannot be canceled: {sid} is {message.status}, and only a "
                    "scheduled message can be canceled",
                )
            message.date_updated = self.now()
            if cancel:
                message.status = "canceled"
                message.timeline.append(StatusStep("canceled", self.clock.now()))
            if redact:
                message.draft = replace(message.draft, body="")
            message.version += 1
            snapshot = _snapshot(message)
        self._publish(("message", snapshot.inbox_view()))
        return snapshot

    def note_callback(self, sid: str, status: str, outcome: str) -> None:
        """Record what the status callback for ``status`` got back."""
        with self._lock:
            message = self._messages.get(sid)
            if message is None:
                return
            for position in range(len(message.timeline) - 1, -1, -1):
                step = message.timeline[position]
                if step.status == status:
                    message.timeline[position] = StatusStep(step.status, step.at, outcome)
                    break
            message.version += 1
            snapshot = _snapshot(message)
        self._publish(("message", snapshot.inbox_view()))

    def get(self, sid: str) -> SandboxMessage | None:
        with self._lock:
            message = self._messages.get(sid)
            return None if message is None else _snapshot(message)

    def messages(self) -> list[SandboxMessage]:
        """Every message, newest first."""
        with self._lock:
            return [_snapshot(m) for m in reversed(self._messages.values())]

    # -- what the other APIs accepted ------------------------------------------

    def deliver(self, message: OutboxMessage) -> None:
        """Keep a message an emulated API other than Twilio accepted, and show it."""
        with self._lock:
            self._outbox[message.id] = message
        self._publish(("message", message.inbox_view()))

    def outbox(self, api: str | None = None) -> list[OutboxMessage]:
        """Every message the other APIs accepted (or those of ``api``), newest first."""
        with self._lock:
            chosen = [m for m in self._outbox.values() if api is None or m.api == api]
        return chosen[::-1]

    def outbox_message(self, message_id: str) -> OutboxMessage | None:
        with self._lock:
            return self._outbox.get(message_id)

    def inbox(self, query: InboxQuery | None = None) -> InboxPage:
        """One page of the messages of every channel that match ``query``, newest first,
        as the inbox shows them, with the counts the inbox's summary and filters show."""
        query = query or InboxQuery()
        # Filter the stored objects and render only the page: at 10,000 messages,
        # rendering every one (dates, timelines) would cost more than the rest.
        with self._lock:
            found: list[SandboxMessage | OutboxMessage] = [
                *self._messages.values(),
                *self._outbox.values(),
            ]
            found.sort(key=_created, reverse=True)
            counts = _counts(found)
            matching = [message for message in found if query.matches(message)]
            start = 0
            if query.before is not None:
                ids = [message_id(message) for message in matching]
                start = ids.index(query.before) + 1 if query.before in ids else len(ids)
            page = matching[start : start + query.limit]
            views = [message.inbox_view() for message in page]
        more = start + query.limit < len(matching)
        return InboxPage(
            messages=views,
            matching=len(matching),
            counts=counts,
            next=message_id(page[-1]) if more and page else None,
        )

    # -- the request log ------------------------------------------------------

    def record_request(
        self,
        method: str,
        path: str,
        query: str,
        params: dict[str, list[str]],
        username: str | None,
        *,
        api: str = "twilio",
        body_json: Any = None,
    ) -> LoggedRequest:
        """Log a request; ``params`` and ``body_json`` must already have their secrets masked."""
        with self._lock:
            self._request_count += 1
            record = LoggedRequest(
                self._request_count,
                self.clock.now(),
                method,
                path,
                query,
                params,
                username,
                api=api,
                body_json=body_json,
            )
            self._requests.append(record)
            return record

    def update_request(self, record: LoggedRequest, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(record, name, value)

    def requests(self) -> list[LoggedRequest]:
        """Every API request received, oldest first."""
        with self._lock:
            return [copy.copy(record) for record in self._requests]

    def reset(self) -> None:
        """Forget every message and request (the fault plan is separate)."""
        with self._lock:
            self._messages.clear()
            self._outbox.clear()
            self._requests.clear()
            self._request_count = 0
        self._publish(("reset", None))

    # -- watching -------------------------------------------------------------

    def watch(self) -> asyncio.Queue[Event | None]:
        """A queue of changes for the calling event loop; ``None`` means stop."""
        watcher = _Watcher(asyncio.get_running_loop())
        with self._lock:
            self._watchers.append(watcher)
        return watcher.queue

    def unwatch(self, queue: asyncio.Queue[Event | None]) -> None:
        with self._lock:
            self._watchers = [w for w in self._watchers if w.queue is not queue]

    def end_watches(self) -> None:
        """Tell every watcher to stop, so open event streams end before shutdown."""
        self._publish(None)

    def _publish(self, event: Event | None) -> None:
        with self._lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            try:
                watcher.loop.call_soon_threadsafe(watcher.queue.put_nowait, event)
            except RuntimeError:
                # The watcher's loop is closed: it will never read again.
                self.unwatch(watcher.queue)
