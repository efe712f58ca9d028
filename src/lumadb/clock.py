"""Time as an injected dependency.

TTLs, change-feed retention, tier ages, retries and leases ask a :class:`Clock` for the time, so
tests can move time forward instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Where time comes from."""

    def now_ms(self) -> int:
        """Wall-clock time in milliseconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for intervals)."""
        ...


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        """Wall-clock milliseconds from ``time.time_ns``."""
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        """``time.monotonic``."""
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to (for tests)."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._ms = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """The current manual time."""
        return self._ms

    def monotonic(self) -> float:
        """Manual time in seconds; moves together with :meth:`now_ms`."""
        return self._ms / 1000.0

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self._ms += int(seconds * 1000)
