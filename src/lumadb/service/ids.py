"""Generated document ids: ULIDs (time-ordered, 26 characters, Crockford base32).

Ids generated later sort after earlier ones (monotonic within this process, also within one
millisecond), so scanning a collection by id returns documents in insertion order.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["new_id"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id() -> str:
    """A new ULID string."""
    global _last_ms, _last_rand
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last_ms:
            now = _last_ms
            rand = (_last_rand + 1) & ((1 << _RANDOM_BITS) - 1)
            if rand == 0:  # 2**80 ids in one millisecond: move to the next one
                now += 1
                rand = int.from_bytes(os.urandom(10), "big") >> 1
        else:
            # Keep the top bit clear so increments within a millisecond cannot overflow.
            rand = int.from_bytes(os.urandom(10), "big") >> 1
        _last_ms, _last_rand = now, rand
    return _encode((now << _RANDOM_BITS) | rand)
