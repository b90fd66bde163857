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

Samples = npt.NDArray[np.float64]


def soundtrack(
    *, duration: float, beeps: Sequence[float], seed: int
) -> npt.NDArray[np.float32]:
    """Samples in [-1, 1] for ``duration`` seconds, with a beep starting at each time."""
    rng = np.random.default_rng([seed, 3])
    n = round(duration * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    track = _ventilation(n, rng) + _hum(t) + _knocks(n, rng)
    for at in beeps:
        _add_beep(track, at)
    return np.clip(track, -1, 1).astype(np.float32)


def _ventilation(n: int, rng: np.random.Generator) -> Samples:
    """White noise through a one-pole low-pass near 300 Hz, at about -40 dBFS."""
    spectrum = np.fft.rfft(rng.normal(0, 1, n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    alpha = 0.11  # 1 - exp(-2*pi*300/16000)
    response = alpha / (1 - (1 - alpha) * np.exp(-2j * np.pi * freqs / SAMPLE_RATE))
    shaped: Samples = np.fft.irfft(spectrum * response, n)
    return 0.01 * shaped / max(float(shaped.std()), 1e-9)


def _hum(t: Samples) -> Samples:
    """Mains hum and its first harmonics, falling off with order."""
    hum = np.zeros_like(t)
    for k in (1, 2, 3):
        hum += (0.003 / k) * np.sin(2 * np.pi * _MAINS_HZ * k * t)
    return hum


def _knocks(n: int, rng: np.random.Generator) -> Samples:
    """A few soft thuds a minute: a door, a basket set down, a step."""
    track = np.zeros(n)
    count = rng.poisson(4 * n / SAMPLE_RATE / 60)
    length = SAMPLE_RATE // 10
    decay = np.exp(-np.arange(length) / (SAMPLE_RATE * 0.015))
    for start in rng.integers(0, max(1, n - length), count):
        burst = rng.normal(0, 1, length) * decay
        track[start : start + length] += float(rng.uniform(0.01, 0.05)) * burst
    return track


def _add_beep(track: Samples, at: float) -> None:
    start = round(at * SAMPLE_RATE)
    if start < 0 or start >= len(track):
        return
    length = min(round(BEEP_SECONDS * SAMPLE_RATE), len(track) - start)
    t = np.arange(length) / SAMPLE_RATE
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.005)  # 5 ms edges: no clicks
    track[start : start + length] += 0.3 * np.sin(2 * np.pi * BEEP_HZ * t) * ramp
