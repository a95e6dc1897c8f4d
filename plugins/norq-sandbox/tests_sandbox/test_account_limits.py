"""The sandbox's account limits: a token bucket of one second's worth, and a concurrency cap."""

from __future__ import annotations

import pytest
from norq_sandbox.account_limits import AccountLimits


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_past_one_seconds_worth_is_refused() -> None:
    limits = AccountLimits(rate=3, clock=FakeClock())
    admitted = [limits.enter() for _ in range(5)]
    assert admitted == [True, True, True, False, False]
    assert limits.rejected == 2


def test_an_even_pace_at_the_rate_is_always_admitted() -> None:
    clock = FakeClock()
    limits = AccountLimits(rate=10, clock=clock)
    for _ in range(100):
        assert limits.enter()
        limits.leave()
        clock.now += 0.1
    assert limits.rejected == 0


def test_requests_in_progress_past_the_cap_are_refused_until_one_leaves() -> None:
    limits = AccountLimits(max_concurrent=2)
    assert limits.enter()
    assert limits.enter()
    assert not limits.enter()
    limits.leave()
    assert limits.enter()


@pytest.mark.parametrize(("rate", "cap"), [(0.0, None), (None, 0)])
def test_limits_that_mean_nothing_are_refused(rate: float | None, cap: int | None) -> None:
    with pytest.raises(ValueError, match="must be"):
        AccountLimits(rate, cap)
