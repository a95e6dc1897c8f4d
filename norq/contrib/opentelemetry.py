"""OpenTelemetry for Norq: a span per notification and per attempt, and counters per provider.

Only the OpenTelemetry *API* is used (``pip install 'norq[otel]'``): the
application's own SDK set-up decides where spans and metrics go, and without
one they cost next to nothing. Turn it on in the config::

    telemetry:
      opentelemetry: true

or give a :class:`norq.Norq` an ``observer=OpenTelemetryObserver(...)``.

What is reported (docs/observability.md has the full list):

- a span ``norq.notify <channel>`` per notification, child of the caller's
  current span, and under it a span ``norq.attempt <provider>`` per attempt,
  retries and failover included, with the channel, the provider instance and
  type, the attempt number, the answer's status code, and on failure the
  normalised code and its disposition;
- counters ``norq.notifications.sent``, ``norq.notifications.failed``,
  ``norq.attempts.retried`` and ``norq.attempts.failed_over`` by channel,
  provider and code, and a histogram ``norq.attempt.duration`` (seconds).

Recipients are never reported: at most, with a salt configured, a keyed hash
(HMAC-SHA256) of the address, so that one person's notifications can be
found together. Message texts are never reported either, nor the provider's
own error message, which often quotes the recipient back.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, StatusCode

from norq._version import __version__

if TYPE_CHECKING:
    from opentelemetry.util.types import AttributeValue

    from norq.config import TelemetrySettings
    from norq.message import Message
    from norq.observe import AttemptRecord
    from norq.provider import Provider
    from norq.receipt import Receipt

SCOPE = "norq"
#: Seconds; a provider's API answers in tens to hundreds of milliseconds, an SMTP server in seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
MIN_SALT_LENGTH = 16

Attributes = dict[str, "AttributeValue"]


class OpenTelemetryObserver:
    """Reports Norq's sends to OpenTelemetry (see the module's description).

    ``tracer_provider`` and ``meter_provider`` default to the global ones the
    application's SDK set. ``recipient_hash_salt`` (16 characters or more,
    kept secret) adds ``norq.recipient.hash`` to notification spans; without
    it no trace of the recipient is kept.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        recipient_hash_salt: str | None = None,
    ) -> None:
        if recipient_hash_salt is not None and len(recipient_hash_salt) < MIN_SALT_LENGTH:
            raise ValueError(
                f"recipient_hash_salt must be at least {MIN_SALT_LENGTH} characters: a short "
                "salt lets anyone who sees the hashes test guessed phone numbers against them"
            )
        self._salt = None if recipient_hash_salt is None else recipient_hash_salt.encode()
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.sent = meter.create_counter(
            "norq.notifications.sent",
            unit="{notification}",
            description="Notifications a provider accepted",
        )
        self.failed = meter.create_counter(
            "norq.notifications.failed",
            unit="{notification}",
            description="Notifications that failed on every provider tried",
        )
        self.retried = meter.create_counter(
            "norq.attempts.retried",
            unit="{attempt}",
            description="Attempts that failed and were tried again on the same provider",
        )
        self.failed_over = meter.create_counter(
            "norq.attempts.failed_over",
            unit="{notification}",
            description="Times a provider gave up on a notification and the next one was tried",
        )
        self.duration = meter.create_histogram(
            "norq.attempt.duration",
            unit="s",
            description="How long one attempt took, from the request to its answer",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )

    @classmethod
    def from_settings(cls, settings: TelemetrySettings) -> OpenTelemetryObserver:
        """The observer the config's ``telemetry:`` section asks for, on the global providers."""
        salt = settings.recipient_hash_salt
        return cls(recipient_hash_salt=None if salt is None else salt.get_secret_value())

    def start(self, message: Message) -> NotificationSpan:
        attributes: Attributes = {"norq.channel": message.channel}
        if message.template is not None:
            attributes["norq.template"] = message.template
        if self._salt is not None:
            digest = hmac.new(self._salt, message.to.encode(), hashlib.sha256).hexdigest()
            attributes["norq.recipient.hash"] = digest
        span = self.tracer.start_span(
            f"norq.notify {message.channel}", kind=SpanKind.INTERNAL, attributes=attributes
        )
        return NotificationSpan(self, span, message.channel)

    def __repr__(self) -> str:
        hashed = "hashed" if self._salt is not None else "not reported"
        return f"<OpenTelemetryObserver recipients {hashed}>"


class NotificationSpan:
    """One notification's span, its attempts' spans, and its share of the metrics."""

    def __init__(self, observer: OpenTelemetryObserver, span: trace.Span, channel: str) -> None:
        self._observer = observer
        self._span = span
        self._channel = channel
        # The last failure of each provider tried, for the failover counter.
        self._gave_up: dict[str, str] = {}

    def attempt(self, provider: Provider, previous: int, record: AttemptRecord) -> None:
        observer = self._observer
        reading = record.reading
        attributes: Attributes = {
            "norq.channel": self._channel,
            "norq.provider": provider.instance,
            "norq.provider.type": provider.name,
            "norq.attempt": previous + record.number,
            "norq.status": "accepted" if reading.ok else "failed",
        }
        if record.status_code is not None:
            attributes["norq.status_code"] = record.status_code
        if not reading.ok:
            code = str(reading.code)
            attributes["norq.code"] = code
            attributes["norq.disposition"] = str(reading.disposition)
            attributes["norq.retrying"] = record.retrying
            if record.retrying:
                observer.retried.add(1, _labels(self._channel, provider.instance, code))
            else:
                self._gave_up[provider.instance] = code
        span = observer.tracer.start_span(
            f"norq.attempt {provider.instance}",
            context=trace.set_span_in_context(self._span),
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=record.started_ns,
        )
        if not reading.ok:
            span.set_status(StatusCode.ERROR, str(reading.code))
        span.end(end_time=record.ended_ns)
        observer.duration.record(
            (record.ended_ns - record.started_ns) / 1e9,
            {
                "norq.channel": self._channel,
                "norq.provider": provider.instance,
                "norq.status": attributes["norq.status"],
            },
        )

    def finish(self, receipt: Receipt) -> None:
        observer = self._observer
        span = self._span
        channel = self._channel
        for provider, code in self._gave_up.items():
            if provider != receipt.provider:
                observer.failed_over.add(1, _labels(channel, provider, code))
        span.set_attribute("norq.provider", receipt.provider)
        span.set_attribute("norq.attempts", receipt.attempts)
        span.set_attribute("norq.status", "accepted" if receipt.ok else "failed")
        if receipt.message_id is not None:
            span.set_attribute("norq.message_id", receipt.message_id)
        error = receipt.error
        if receipt.ok:
            observer.sent.add(1, {"norq.channel": channel, "norq.provider": receipt.provider})
        else:
            code = "unknown" if error is None else error.code
            span.set_attribute("norq.code", code)
            if error is not None:
                span.set_attribute("norq.disposition", str(error.disposition))
            span.set_attribute("norq.unconfirmed", receipt.unconfirmed)
            span.set_status(StatusCode.ERROR, code)
            observer.failed.add(1, _labels(channel, receipt.provider, code))
        span.end()


def _labels(channel: str, provider: str, code: str) -> Attributes:
    return {"norq.channel": channel, "norq.provider": provider, "norq.code": code}
