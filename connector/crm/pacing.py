"""Client-side pacing: at most `rate` calls start in any rolling `window` seconds.

HubSpot's search endpoints allow 5 requests per second per account and answer the next one with
a 429 (search answers carry no rate-limit headers to steer by). A 429 costs a request that counts
towards HubSpot's "errors under 5% of requests" guideline plus a back-off longer than the wait it
avoids, so a connector that searches page after page paces itself instead of learning the limit
from refusals. Another app searching the same account can still cause a 429: the retry policy
handles that one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class Pacer:
    """A rolling-window gate; thread-safe, and `wait` returns the seconds it slept."""

    def __init__(
        self,
        rate: int,
        window: float = 1.0,
        *,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate < 1 or window <= 0:
            raise ValueError(f"a pacer needs rate >= 1 and window > 0, got {rate} per {window} s")
        self.rate = rate
        # The server counts arrivals, not our sends: a little slack keeps jitter from bunching them.
        self.window = window * (1 + margin)
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque(maxlen=rate)
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until one more call may start, and count it as started."""
        with self._lock:
            slept = 0.0
            if len(self._starts) == self.rate:
                delay = self._starts[0] + self.window - self._clock()
                if delay > 0:
                    self._sleep(delay)
                    slept = delay
            self._starts.append(self._clock())
            return slept
