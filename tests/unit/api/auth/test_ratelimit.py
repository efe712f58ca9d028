"""LoginLimiter: failures per user and per address over a sliding window, bounded in memory."""

from __future__ import annotations

import threading

import pytest

from lumadb.api.auth import LoginLimiter
from lumadb.clock import ManualClock
from lumadb.errors import ConfigError, TooManyRequests


def _limiter(**options: int | float) -> tuple[LoginLimiter, ManualClock]:
    clock = ManualClock()
    return LoginLimiter(clock, **options), clock  # type: ignore[arg-type]


def _fail(limiter: LoginLimiter, user: str, address: str, times: int) -> None:
    for _ in range(times):
        limiter.failed(user, address)


def test_user_is_blocked_at_the_limit_and_not_before() -> None:
    limiter, _ = _limiter(per_user=3, per_address=100, window=60)
    _fail(limiter, "ada", "10.0.0.1", 2)
    limiter.check("ada", "10.0.0.1")
    limiter.failed("ada", "10.0.0.1")
    with pytest.raises(TooManyRequests) as info:
        limiter.check("ada", "10.0.0.2")  # another address does not help the user
    assert "user" in info.value.message
    assert "ada" not in info.value.message
    limiter.check("bob", "10.0.0.1")  # other users from the same address are fine


def test_address_is_blocked_across_user_names() -> None:
    limiter, _ = _limiter(per_user=100, per_address=3, window=60)
    for user in ("a", "b", "c"):
        limiter.failed(user, "10.0.0.9")
    with pytest.raises(TooManyRequests, match="address"):
        limiter.check("fresh-name", "10.0.0.9")
    limiter.check("a", "10.0.0.10")


def test_window_slides() -> None:
    limiter, clock = _limiter(per_user=2, per_address=100, window=60)
    limiter.failed("ada", "x")
    clock.advance(30)
    limiter.failed("ada", "x")
    with pytest.raises(TooManyRequests):
        limiter.check("ada", "x")
    clock.advance(30)  # the first failure is exactly one window old: it no longer counts
    limiter.check("ada", "x")
    limiter.failed("ada", "x")
    with pytest.raises(TooManyRequests):
        limiter.check("ada", "x")
    clock.advance(60)
    limiter.check("ada", "x")
    assert limiter.sizes() == (0, 0)  # expired keys are dropped, not kept empty


def test_retry_after_is_time_until_the_oldest_failure_leaves_the_window() -> None:
    limiter, clock = _limiter(per_user=2, per_address=100, window=60)
    limiter.failed("ada", "x")
    clock.advance(10)
    limiter.failed("ada", "x")
    clock.advance(5)
    with pytest.raises(TooManyRequests) as info:
        limiter.check("ada", "x")
    assert info.value.retry_after == 45
    clock.advance(44.5)
    with pytest.raises(TooManyRequests) as info:
        limiter.check("ada", "x")
    assert info.value.retry_after == 1  # half a second, rounded up to the minimum of one
    clock.advance(0.5)
    limiter.check("ada", "x")


def test_retry_after_takes_the_longer_of_both_limits() -> None:
    limiter, clock = _limiter(per_user=1, per_address=2, window=100)
    limiter.failed("a", "x")
    clock.advance(20)
    limiter.failed("b", "x")
    with pytest.raises(TooManyRequests) as info:
        limiter.check("b", "x")
    assert info.value.retry_after == 100  # b's own failure is newest
    with pytest.raises(TooManyRequests) as info:
        limiter.check("c", "x")
    assert info.value.retry_after == 80  # only the address: its oldest failure leaves first


def test_success_resets_the_user_but_not_the_address() -> None:
    limiter, _ = _limiter(per_user=2, per_address=3, window=60)
    _fail(limiter, "ada", "x", 2)
    with pytest.raises(TooManyRequests):
        limiter.check("ada", "y")
    limiter.succeeded("ada")
    limiter.check("ada", "y")
    limiter.failed("bob", "x")
    with pytest.raises(TooManyRequests, match="address"):
        limiter.check("ada", "x")
    limiter.succeeded("never-seen")


def test_memory_is_bounded_by_evicting_the_oldest_keys() -> None:
    limiter, clock = _limiter(per_user=1, per_address=1, window=3600, max_entries=10)
    limiter.failed("victim", "addr-victim")
    for i in range(100):
        clock.advance(0.01)
        limiter.failed(f"user{i}", f"addr{i}")
    assert limiter.sizes() == (10, 10)
    limiter.check("victim", "addr-victim")  # evicted: the oldest key goes first
    with pytest.raises(TooManyRequests):
        limiter.check("user99", "elsewhere")


def test_a_repeat_failure_keeps_a_key_from_eviction() -> None:
    limiter, clock = _limiter(per_user=2, per_address=1000, window=3600, max_entries=3)
    limiter.failed("ada", "x")
    for name in ("b", "c"):
        clock.advance(1)
        limiter.failed(name, "x")
    limiter.failed("ada", "x")  # ada is now the most recent
    limiter.failed("d", "x")  # evicts b, not ada
    with pytest.raises(TooManyRequests):
        limiter.check("ada", "z")


def test_failures_per_key_are_bounded_too() -> None:
    limiter, clock = _limiter(per_user=3, per_address=3, window=60)
    _fail(limiter, "ada", "x", 1000)
    clock.advance(1)
    with pytest.raises(TooManyRequests) as info:
        limiter.check("ada", "x")
    assert info.value.retry_after == 59


def test_concurrent_failures_are_all_counted() -> None:
    limiter, _ = _limiter(per_user=10_000, per_address=401, window=60)
    threads = [threading.Thread(target=_fail, args=(limiter, f"u{i}", "x", 100)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    limiter.check("u0", "x")  # 400 failures: one under the address limit
    limiter.failed("u0", "x")
    with pytest.raises(TooManyRequests):
        limiter.check("u0", "x")


@pytest.mark.parametrize(
    ("option", "value"),
    [("per_user", 0), ("per_address", 0), ("window", 0), ("window", -1.0), ("max_entries", 0)],
)
def test_settings_are_validated(option: str, value: float) -> None:
    with pytest.raises(ConfigError):
        LoginLimiter(ManualClock(), **{option: value})  # type: ignore[arg-type]
