"""Time-ordered identifiers (uuid7, RFC 9562) for rows and events.

Time ordering keeps SQLite's b-tree inserts append-only and makes ids sort the
way people expect (newest last) without a separate timestamp index.
"""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last = 0


def uuid7() -> str:
    """A uuid7 string; monotonic within this process even when the clock stalls."""
    global _last
    with _lock:
        ms = time.time_ns() // 1_000_000
        # 12 bits of sub-millisecond counter keep ids increasing inside one ms.
        candidate = ms << 12
        if candidate <= _last:
            candidate = _last + 1
        _last = candidate
    ms, seq = candidate >> 12, candidate & 0xFFF
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
