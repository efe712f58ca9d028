"""Limits on failed logins, per user name and per client address, over a sliding window.

Only failures count: a user who types the password right is never slowed down, and a success
forgets that user's failures. The address table is kept on success, so one client guessing many
user names is still held back. Both tables are bounded: when full, the key whose last failure is
oldest is dropped, so a flood of made-up names costs memory up to ``max_entries`` and no more.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque

from lumadb.clock import Clock
from lumadb.errors import ConfigError, TooManyRequests

__all__ = ["LoginLimiter"]


class _Table:
    """Recent failure times per key; not locked (the limiter holds the lock)."""

    def __init__(self, limit: int, window: float, max_entries: int) -> None:
        self._limit = limit
        self._window = window
        self._max_entries = max_entries
        # Keys in order of their latest failure, oldest first, so eviction pops from the front.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds until ``key`` may try again, or None if it is under its limit."""
        times = self._recent(key, now)
        if times is None or len(times) < self._limit:
            return None
        return times[0] + self._window - now

    def record(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        if times is None:
            # Only the newest ``limit`` failures decide anything, so no more are kept.
            times = self._failures[key] = deque(maxlen=self._limit)
        times.append(now)
        self._failures.move_to_end(key)
        while len(self._failures) > self._max_entries:
            self._failures.popitem(last=False)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times


class LoginLimiter:
    """Refuses logins for a user or an address with too many recent failures."""

    def __init__(
        self,
        clock: Clock,
        *,
        per_user: int = 5,
        per_address: int = 20,
        window: float = 60.0,
        max_entries: int = 100_000,
    ) -> None:
        """Count failures within ``window`` seconds; each table holds at most ``max_entries``."""
        _require(per_user >= 1, f"auth.login_attempts_per_user must be >= 1, got {per_user!r}")
        _require(
            per_address >= 1, f"auth.login_attempts_per_address must be >= 1, got {per_address!r}"
        )
        _require(window > 0, f"auth.login_window must be > 0 seconds, got {window!r}")
        _require(max_entries >= 1, f"max_entries must be >= 1, got {max_entries!r}")
        self._clock = clock
        self._users = _Table(per_user, window, max_entries)
        self._addresses = _Table(per_address, window, max_entries)
        self._lock = threading.Lock()

    def check(self, user: str, address: str) -> None:
        """Raise :class:`TooManyRequests` if ``user`` or ``address`` is at its failure limit.

        ``retry_after`` is the whole number of seconds (at least one) until enough failures
        leave the window for every limit that was hit.
        """
        with self._lock:
            now = self._clock.monotonic()
            by_user = self._users.retry_after(user, now)
            by_address = self._addresses.retry_after(address, now)
        if by_user is None and by_address is None:
            return
        wait = max(by_user or 0.0, by_address or 0.0)
        who = "this user" if by_user is not None else "this address"
        raise TooManyRequests(
            f"too many failed login attempts for {who}; try again later",
            retry_after=max(1, math.ceil(wait)),
        )

    def failed(self, user: str, address: str) -> None:
        """Record one failed login for ``user`` and for ``address``."""
        with self._lock:
            now = self._clock.monotonic()
            self._users.record(user, now)
            self._addresses.record(address, now)

    def succeeded(self, user: str) -> None:
        """Forget the failures of ``user``; the address keeps its count."""
        with self._lock:
            self._users.forget(user)

    def sizes(self) -> tuple[int, int]:
        """How many user and address keys are tracked (for metrics and tests)."""
        with self._lock:
            return len(self._users), len(self._addresses)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
