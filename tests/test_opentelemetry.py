"""OpenTelemetry: the spans and metrics of real sends, read through in-memory exporters."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pluggy
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import norq
from norq.contrib.opentelemetry import OpenTelemetryObserver
from norq.executor import Executor
from norq.testing import MockServer, MockTransport, json_response
from tests.conftest import ACME_SECRET, Sleeps, quiet_executor

RECIPIENT = "+15557654321"
SALT = "a-salt-of-sixteen-chars-or-more"
DOWN = json_response(503, {"error": {"code": "E_DOWN", "message": f"down for {RECIPIENT}"}})
TAKEN = json_response(201, {"data": {"id": "MSG-1"}})


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    observer: OpenTelemetryObserver

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self) -> dict[str, list[Any]]:
        """Metric name -> its data points (counters' sums, the histogram's buckets)."""
        data = self.metrics.get_metrics_data()
        found: dict[str, list[Any]] = {}
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


def telemetry(salt: str | None = None) -> Telemetry:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    observer = OpenTelemetryObserver(
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[reader]),
        recipient_hash_salt=salt,
    )
    return Telemetry(spans, reader, observer)


def failover_config(base_url: str = "https://api.acme.test") -> dict[str, Any]:
    """``acme`` retries once, then fails over to ``backup``."""
    config = {"api_key": ACME_SECRET, "base_url": base_url}
    return {
        "providers": {
            "acme": {"config": config, "retry": {"max_retries": 1}},
            "backup": {"type": "acme", "config": config},
        },
        "routing": {"sms": ["acme", "backup"]},
        "templates": {"otp": {"sms": {"body": "Your code is {{ code }}"}}},
    }


@pytest.fixture
def otel() -> Telemetry:
    return telemetry()


def build(
    pm: pluggy.PluginManager, executor: Executor, observer: OpenTelemetryObserver, **config: Any
) -> norq.Norq:
    return norq.Norq.from_dict(
        failover_config(**config),
        plugin_manager=pm,
        environ={},
        executor=executor,
        observer=observer,
    )


def check_retry_then_failover(otel: Telemetry) -> None:
    """What one retry on acme, then a failover to backup, must report."""
    spans = {span.name: span for span in otel.finished()}
    notify = spans["norq.notify sms"]
    attempts = sorted(
        (s for s in otel.finished() if s.name.startswith("norq.attempt")),
        key=lambda s: s.attributes["norq.attempt"] if s.attributes else 0,
    )
    assert [s.name for s in attempts] == [
        "norq.attempt acme",
        "norq.attempt acme",
        "norq.attempt backup",
    ]
    assert all(
        s.parent is not None and s.parent.span_id == notify.context.span_id for s in attempts
    )
    first, second, third = (dict(s.attributes or {}) for s in attempts)
    assert first == {
        "norq.channel": "sms",
        "norq.provider": "acme",
        "norq.provider.type": "acme",
        "norq.attempt": 1,
        "norq.status": "failed",
        "norq.status_code": 503,
        "norq.code": "provider_unavailable",
        "norq.disposition": "retry",
        "norq.retrying": True,
    }
    assert second["norq.attempt"] == 2
    assert second["norq.retrying"] is False
    assert third == {
        "norq.channel": "sms",
        "norq.provider": "backup",
        "norq.provider.type": "acme",
        "norq.attempt": 3,
        "norq.status": "accepted",
        "norq.status_code": 201,
    }
    assert attempts[0].status.status_code is StatusCode.ERROR
    assert attempts[2].status.status_code is StatusCode.UNSET
    assert dict(notify.attributes or {}) == {
        "norq.channel": "sms",
        "norq.template": "otp",
        "norq.provider": "backup",
        "norq.attempts": 3,
        "norq.status": "accepted",
        "norq.message_id": "MSG-1",
    }

    points = otel.points()
    counted = {
        name: {tuple(sorted(dict(p.attributes).items())): p.value for p in points[name]}
        for name in (
            "norq.notifications.sent",
            "norq.attempts.retried",
            "norq.attempts.failed_over",
        )
    }
    acme_down = (
        ("norq.channel", "sms"),
        ("norq.code", "provider_unavailable"),
        ("norq.provider", "acme"),
    )
    assert counted == {
        "norq.notifications.sent": {(("norq.channel", "sms"), ("norq.provider", "backup")): 1},
        "norq.attempts.retried": {acme_down: 1},
        "norq.attempts.failed_over": {acme_down: 1},
    }
    assert "norq.notifications.failed" not in points
    durations = {
        dict(p.attributes)["norq.provider"] + "/" + dict(p.attributes)["norq.status"]: p.count
        for p in points["norq.attempt.duration"]
    }
    assert durations == {"acme/failed": 2, "backup/accepted": 1}


def everything_reported(otel: Telemetry) -> str:
    """Every span name, attribute and status, and every metric attribute, as one text."""
    parts = []
    for span in otel.finished():
        parts += [span.name, json.dumps(dict(span.attributes or {})), str(span.status.description)]
        parts += [json.dumps(dict(event.attributes or {})) for event in span.events]
    for name, points in otel.points().items():
        parts += [name, *(json.dumps(dict(p.attributes)) for p in points)]
    return "\n".join(parts)


def test_a_retry_and_a_failover_are_spans_and_counters(
    plugin_manager: pluggy.PluginManager, sleeps: Sleeps, otel: Telemetry
) -> None:
    transport = MockTransport(DOWN, DOWN, TAKEN)
    executor = quiet_executor(sleeps, transports={"http": transport})
    app = build(plugin_manager, executor, otel.observer)

    receipt = app.notify("sms", RECIPIENT, template="otp", data={"code": "482913"})

    assert receipt.ok
    assert receipt.provider == "backup"
    check_retry_then_failover(otel)
    reported = everything_reported(otel)
    for private in (RECIPIENT, RECIPIENT.lstrip("+"), ACME_SECRET, "482913", "Your code"):
        assert private not in reported


async def test_async_sends_on_aiohttp_report_the_same(
    plugin_manager: pluggy.PluginManager, sleeps: Sleeps, otel: Telemetry
) -> None:
    with MockServer(DOWN, DOWN, TAKEN) as server:
        executor = Executor(async_transport="aiohttp", sleep=sleeps, async_sleep=sleeps.async_sleep)
        async with build(plugin_manager, executor, otel.observer, base_url=server.url) as app:
            receipt = await app.anotify("sms", RECIPIENT, template="otp", data={"code": "1"})

    assert receipt.provider == "backup"
    check_retry_then_failover(otel)
    assert RECIPIENT not in everything_reported(otel)


def test_a_final_failure_is_an_error_span_and_a_failed_count(
    plugin_manager: pluggy.PluginManager, sleeps: Sleeps, otel: Telemetry
) -> None:
    refused = json_response(400, {"error": {"code": "E_NUMBER", "message": RECIPIENT}})
    executor = quiet_executor(sleeps, transports={"http": MockTransport(refused)})
    app = build(plugin_manager, executor, otel.observer)

    with pytest.raises(norq.DeliveryError):
        app.notify("sms", RECIPIENT, body="hello")

    [notify] = [s for s in otel.finished() if s.name == "norq.notify sms"]
    assert notify.status.status_code is StatusCode.ERROR
    assert notify.status.description == "invalid_recipient"
    attributes = dict(notify.attributes or {})
    assert attributes["norq.code"] == "invalid_recipient"
    assert attributes["norq.disposition"] == "final"
    assert attributes["norq.unconfirmed"] is False
    [failed] = otel.points()["norq.notifications.failed"]
    assert dict(failed.attributes) == {
        "norq.channel": "sms",
        "norq.provider": "acme",
        "norq.code": "invalid_recipient",
    }
    assert RECIPIENT not in everything_reported(otel)


def test_recipients_are_hashed_with_the_salt_only_when_one_is_given(
    plugin_manager: pluggy.PluginManager, sleeps: Sleeps
) -> None:
    salted = telemetry(SALT)
    executor = quiet_executor(sleeps, transports={"http": MockTransport(TAKEN)})
    build(plugin_manager, executor, salted.observer).notify("sms", RECIPIENT, body="hi")

    [notify] = [s for s in salted.finished() if s.name == "norq.notify sms"]
    expected = hmac.new(SALT.encode(), RECIPIENT.encode(), hashlib.sha256).hexdigest()
    assert (notify.attributes or {})["norq.recipient.hash"] == expected
    assert SALT not in everything_reported(salted)


def test_a_short_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        OpenTelemetryObserver(recipient_hash_salt="short")


def test_the_config_turns_it_on_and_keeps_the_salt_secret(
    plugin_manager: pluggy.PluginManager,
) -> None:
    document = {
        **failover_config(),
        "telemetry": {"opentelemetry": True, "recipient_hash_salt": SALT},
    }
    app = norq.Norq.from_dict(document, plugin_manager=plugin_manager, environ={})

    assert isinstance(app._wiring.observer, OpenTelemetryObserver)
    assert app.redactor.text(f"salt={SALT}") == "salt=***"
    assert SALT not in repr(app._wiring.observer)


def test_a_short_salt_in_the_config_is_a_config_error(plugin_manager: pluggy.PluginManager) -> None:
    document = {**failover_config(), "telemetry": {"recipient_hash_salt": "short"}}
    with pytest.raises(norq.ConfigError, match=r"telemetry\.recipient_hash_salt"):
        norq.Norq.from_dict(document, plugin_manager=plugin_manager, environ={})


def test_a_failing_observer_does_not_stop_the_send(
    plugin_manager: pluggy.PluginManager, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def start(self, message: norq.Message) -> Any:
            raise RuntimeError("exporter down")

    executor = quiet_executor(sleeps, transports={"http": MockTransport(TAKEN)})
    app = norq.Norq.from_dict(
        failover_config(),
        plugin_manager=plugin_manager,
        environ={},
        executor=executor,
        observer=Broken(),
    )

    assert app.notify("sms", RECIPIENT, body="hi").ok
    assert "sent unobserved" in caplog.text


# -- zero cost without the extra ------------------------------------------------

NO_OTEL = textwrap.dedent(
    """
    import io, sys

    class NoOpenTelemetry:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    if sys.argv[1] == "missing":
        sys.meta_path.insert(0, NoOpenTelemetry())
    import norq

    config = {"providers": {"console": {}}, "routing": {"sms": "console"}}
    app = norq.Norq.from_dict(config, console_stream=io.StringIO())
    app.notify("sms", "+15557654321", body="hi")
    loaded = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
    try:
        norq.Norq.from_dict({**config, "telemetry": {"opentelemetry": True}})
        refused = ""
    except norq.ConfigError as exc:
        refused = str(exc)
    print(loaded, refused, sep="\\n")
    """
)


def run_without_telemetry(mode: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", NO_OTEL, mode], capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


def test_without_the_extra_nothing_of_opentelemetry_is_imported() -> None:
    loaded, refused = run_without_telemetry("missing")

    assert loaded == "[]"
    assert "telemetry.opentelemetry: true needs the otel extra" in refused
    assert "pip install 'norq[otel]'" in refused


def test_with_the_extra_installed_but_off_nothing_of_it_is_imported() -> None:
    loaded, refused = run_without_telemetry("installed")

    assert loaded == "[]"
    assert refused == ""


@pytest.fixture(autouse=True)
def _no_global_providers() -> Iterator[None]:
    # Each test passes its own providers; none may leak into OpenTelemetry's globals.
    from opentelemetry import trace

    before = trace.get_tracer_provider()
    yield
    assert trace.get_tracer_provider() is before
