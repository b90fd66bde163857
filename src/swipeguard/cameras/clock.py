"""Wall-clock times for a live camera's packets, taken from the server's receive time.

A camera's own clock is not trusted: it drifts, restarts, jumps. Each packet's media
time ``t`` maps to ``t + offset`` on the server's clock. The offset is the smallest
``received - t`` seen lately, because network and buffering only ever delay a packet:
the least-delayed packet tells the truth best. It follows a camera clock that runs
fast at once (a smaller offset is seen) and one that runs slow by at most
``MAX_SLEW`` (so a late burst of packets cannot drag the times). A jump in media
time (camera restart, wrap-around, missing timestamps) re-anchors on the receive time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# A jump bigger than this between consecutive packets of one stream is a discontinuity,
# not jitter: cameras send a frame every 33-200 ms and audio every 20-128 ms.
MAX_STEP_S = 3.0
# How far behind the receive time a packet may map before the clock re-anchors: far
# beyond any real buffering (the recorder gives up on a silent camera after 10 s).
MAX_LAG_S = 30.0
# A packet mapping this far ahead of its own receive time means the camera clock leapt.
MAX_LEAD_S = 1.0
# Window over which the least delay is taken, and how fast a slow camera clock is
# followed: 0.5 % (5 ms a second) is 100x a bad crystal oscillator's 50 ppm.
WINDOW_S = 5.0
MAX_SLEW = 0.005


@dataclass
class WallClock:
    offset: float | None = None
    _last_t: dict[int, float] = field(default_factory=dict)
    # (received, lag) of the window's packets that may still become its least lag:
    # lags increase front to back, so the front is the window's minimum (O(1) a packet).
    _recent: deque[tuple[float, float]] = field(default_factory=deque)
    _last_slew: float | None = None

    def wall(self, stream: int, t: float | None, received: float) -> float:
        """The wall-clock time (epoch seconds) of a packet of ``stream`` at media time ``t``."""
        if t is None:
            self._last_t.pop(stream, None)
            return received if self.offset is None else max(received, self._latest())
        if self.offset is None or self._jumped(stream, t, received):
            self._anchor(t, received)
        assert self.offset is not None
        self._last_t[stream] = t
        self._follow(received - t, received)
        return t + self.offset

    def settle(self, samples: list[tuple[float, float]]) -> None:
        """Anchors on the least-delayed of the first (media time, received) pairs.

        The packets read while a connection opens arrive in one burst, late; anchoring
        on the first of them would put the whole recording late by the burst's age.
        """
        if samples:
            t, received = min(samples, key=lambda s: s[1] - s[0])
            self._anchor(t, received)

    def _jumped(self, stream: int, t: float, received: float) -> bool:
        assert self.offset is not None
        last = self._last_t.get(stream)
        if last is not None and abs(t - last) > MAX_STEP_S:
            return True
        lag = received - (t + self.offset)
        return lag > MAX_LAG_S or -lag > MAX_LEAD_S

    def _anchor(self, t: float, received: float) -> None:
        self.offset = received - t
        self._recent.clear()
        self._last_slew = received

    def _follow(self, lag: float, received: float) -> None:
        """Lowers the offset to any smaller lag; raises it slowly to the window's least lag."""
        assert self.offset is not None
        recent = self._recent
        while recent and recent[-1][1] >= lag:
            recent.pop()
        recent.append((received, lag))
        while received - recent[0][0] > WINDOW_S:
            recent.popleft()
        if lag < self.offset:
            self.offset = lag
        elapsed = max(0.0, received - (self._last_slew or received))
        self._last_slew = max(received, self._last_slew or received)
        least = recent[0][1]
        if least > self.offset:
            self.offset += min(least - self.offset, MAX_SLEW * elapsed)

    def _latest(self) -> float:
        assert self.offset is not None
        return max((t for t in self._last_t.values()), default=0.0) + self.offset
