"""Rate limits: the pacing arithmetic, the in-flight leases and the YAML that sets them."""

from __future__ import annotations

import pytest

import norq
from norq.rate_limits import RateLimits
from norq.throttle import LocalLimitStore, Throttle

SID = "AC" + "1" * 32


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def twilio(sender: str, **rate_limits: object) -> norq.Norq:
    entry: dict[str, object] = {
        "config": {"account_sid": SID, "auth_token": "token", "from": sender}
    }
    if rate_limits:
        entry["rate_limits"] = rate_limits
    return norq.Norq.from_dict({"providers": {"twilio": entry}}, environ={})


def test_reservations_are_spaced_one_interval_apart() -> None:
    clock = FakeClock()
    store = LocalLimitStore(clock)
    waits = [store.reserve("k", 0.1) for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_an_idle_timeline_does_not_bank_moments_for_a_burst() -> None:
    clock = FakeClock()
    store = LocalLimitStore(clock)
    store.reserve("k", 0.1)
    clock.now += 10
    assert [store.reserve("k", 0.1) for _ in range(2)] == pytest.approx([0.0, 0.1])


def test_timelines_are_independent_per_key() -> None:
    store = LocalLimitStore(FakeClock())
    store.reserve("a", 1.0)
    assert store.reserve("b", 1.0) == 0.0


def test_in_flight_slots_run_out_and_come_back_when_left() -> None:
    store = LocalLimitStore(FakeClock())
    first = store.try_enter("k", 2, lease=60)
    second = store.try_enter("k", 2, lease=60)
    assert first
    assert second
    assert first != second
    assert store.try_enter("k", 2, lease=60) is None
    store.leave("k", first)
    assert store.try_enter("k", 2, lease=60) is not None


def test_an_expired_lease_frees_its_slot() -> None:
    clock = FakeClock()
    store = LocalLimitStore(clock)
    assert store.try_enter("k", 1, lease=5) is not None
    assert store.try_enter("k", 1, lease=5) is None
    clock.now += 5
    assert store.try_enter("k", 1, lease=5) is not None


def test_a_throttle_releases_its_slot_when_the_request_raises() -> None:
    store = LocalLimitStore()
    throttle = Throttle("twilio", RateLimits(max_in_flight=1), store)
    with pytest.raises(RuntimeError), throttle.hold():
        raise RuntimeError("transport blew up")
    assert store.try_enter("norq:inflight:twilio", 1, lease=5) is not None


async def test_the_async_hold_takes_and_returns_a_slot() -> None:
    store = LocalLimitStore()
    throttle = Throttle("twilio", RateLimits(max_in_flight=1), store)
    async with throttle.ahold():
        assert store.try_enter("norq:inflight:twilio", 1, lease=5) is None
    assert store.try_enter("norq:inflight:twilio", 1, lease=5) is not None


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"requests_per_second": 0.0}, "requests_per_second must be more than 0"),
        ({"sender_per_second": -1.0}, "sender_per_second must be more than 0"),
        ({"max_in_flight": 0}, "max_in_flight must be at least 1"),
    ],
)
def test_rate_limits_refuse_values_that_mean_nothing(
    limits: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RateLimits(**limits)  # type: ignore[arg-type]


def test_twilio_defaults_to_its_documented_account_concurrency() -> None:
    provider = twilio("+15005550006").providers["twilio"]
    assert provider.rate_limits == RateLimits(max_in_flight=100)


@pytest.mark.parametrize(
    ("sender", "rate"),
    [("+15005550006", 1.0), ("+18885550100", 3.0), ("12345", 100.0)],
)
def test_auto_sender_rate_follows_twilios_rate_for_the_senders_kind(
    sender: str, rate: float
) -> None:
    provider = twilio(sender, sender_per_second="auto").providers["twilio"]
    assert provider.rate_limits.sender_per_second == rate


def test_yaml_overrides_a_default_and_zero_turns_it_off() -> None:
    provider = twilio("+15005550006", requests_per_second=50, max_in_flight=0).providers["twilio"]
    assert provider.rate_limits == RateLimits(requests_per_second=50.0)


def test_auto_for_a_sender_without_a_documented_rate_names_the_key() -> None:
    with pytest.raises(norq.ConfigError, match=r"providers\.twilio\.rate_limits: .*auto"):
        twilio("Norq", sender_per_second="auto")


def test_a_rate_that_is_not_a_number_is_a_config_error() -> None:
    with pytest.raises(norq.ConfigError, match="sender_per_second: 'fast' is not a rate"):
        twilio("+15005550006", sender_per_second="fast")


def test_a_slot_and_the_longest_wait_come_together_locally() -> None:
    store = LocalLimitStore(FakeClock())
    lines = [("a", 1.0), ("b", 3.0)]
    token, wait = store.enter_and_reserve("slots", 2, 60, lines)
    assert token is not None
    assert wait == 0.0
    _, wait = store.enter_and_reserve("slots", 2, 60, lines)
    assert wait == 3.0
    assert store.enter_and_reserve("slots", 2, 60, lines) == (None, 0.0)
