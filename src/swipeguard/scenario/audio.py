"""The camera microphone's track: shop ambience, and the card terminal's beep at each swipe.

Mono 16 kHz, as CCTV cameras record it. Ambience is low-passed noise (ventilation),
mains hum with harmonics (lights, fridges) and the odd distant knock; the beep is a
short 2.7 kHz tone, the pitch of the piezo buzzers in card terminals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
BEEP_HZ = 2_700.0
BEEP_SECONDS = 0.15
_MAINS_HZ = 50.0


def soundtrack(
    *, duration: float, beeps: Sequence[float], seed: int
) -> npt.NDArray[np.float32]:
    """Samples in [-1, 1] for ``duration`` seconds, with a beep starting at each time."""
    rng = np.random.default_rng([seed, 3])
    n = round(duration * SAMPLE_RATE)
    t = np.arange(n, dtype=np.float32) / SAMPLE_RATE
    track = _ventilation(n, rng) + _hum(t) + _knocks(n, rng)
    for at in beeps:
        _add_beep(track, at)
    return np.clip(track, -1, 1).astype(np.float32)


def _ventilation(n: int, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """White noise through a one-pole low-pass near 300 Hz, at about -40 dBFS."""
    white = rng.normal(0, 1, n).astype(np.float32)
    alpha = np.float32(0.11)  # 1 - exp(-2*pi*300/16000)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    response = alpha / (1 - (1 - alpha) * np.exp(-2j * np.pi * freqs / SAMPLE_RATE))
    shaped = np.fft.irfft(spectrum * response, n).astype(np.float32)
    return 0.01 * shaped / max(float(shaped.std()), 1e-9)


def _hum(t: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    hum = sum(
        (0.003 / k) * np.sin(2 * np.pi * _MAINS_HZ * k * t) for k in (1, 2, 3)
    )
    return np.asarray(hum, dtype=np.float32)


def _knocks(n: int, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A few soft thuds a minute: a door, a basket set down, a step."""
    track = np.zeros(n, np.float32)
    count = rng.poisson(4 * n / SAMPLE_RATE / 60)
    length = SAMPLE_RATE // 10
    decay = np.exp(-np.arange(length) / (SAMPLE_RATE * 0.015)).astype(np.float32)
    for start in rng.integers(0, max(1, n - length), count):
        burst = rng.normal(0, 1, length).astype(np.float32) * decay
        track[start : start + length] += float(rng.uniform(0.01, 0.05)) * burst
    return track


def _add_beep(track: npt.NDArray[np.float32], at: float) -> None:
    start = round(at * SAMPLE_RATE)
    length = round(BEEP_SECONDS * SAMPLE_RATE)
    if start < 0 or start >= len(track):
        return
    length = min(length, len(track) - start)
    t = np.arange(length, dtype=np.float32) / SAMPLE_RATE
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.005)  # 5 ms edges: no clicks
    track[start : start + length] += 0.3 * np.sin(2 * np.pi * BEEP_HZ * t) * ramp
