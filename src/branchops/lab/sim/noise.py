"""Deterministic values that move smoothly: levels, random walks and counters.

Nothing here keeps per-value state. Every value is a pure function of a 64-bit key (the
lab's seed, the device and what is measured, mixed together), the time and, for counters,
the moment counting started. That is what lets 7,728 devices with ~100 moving values each
cost no memory per value, and makes a run repeatable: the same seed and the same clock give
the same numbers.

``wander`` is value noise: pseudo-random points every ``period`` seconds, joined by a
smoothstep curve. Two octaves of it look like a random walk that never drifts away from its
level. A counter is the integral of a rate that wanders around its level, which has a
closed form: ``rate * dt + amplitude * (wander(t) - wander(t0))``; the amplitude is small
enough that the counter never goes backwards.
"""

from __future__ import annotations

import math
from typing import Final

MASK64: Final = (1 << 64) - 1
_GOLDEN: Final = 0x9E3779B97F4A7C15
_TO_UNIT: Final = 1.0 / (1 << 53)
SLOW_PERIOD: Final = 900.0  # seconds between the slow octave's points
FAST_PERIOD: Final = 75.0
COUNTER_PERIOD: Final = 300.0
# smoothstep's slope is at most 1.5 per period, and two points differ by at most 1, so a
# counter's wander term changes by at most 1.5 * amplitude / period per second.
TRAFFIC_SWING: Final = 0.5  # traffic stays within +-50 % of its level


def mix(value: int) -> int:
    """A 64-bit avalanche mix (splitmix64's finaliser): close inputs, unrelated outputs."""
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


def derive(key: int, *parts: int) -> int:
    """A key for a part of something keyed ``key`` (a device's interface, a column)."""
    for part in parts:
        key = mix((key + _GOLDEN * (part + 1)) & MASK64)
    return key


def text_key(seed: int, text: str) -> int:
    """A key from a seed and a name, stable across processes (unlike ``hash(str)``)."""
    key = mix(seed & MASK64)
    for chunk in text.encode():
        key = mix(((key ^ chunk) + _GOLDEN) & MASK64)
    return key


def unit(key: int, step: int = 0) -> float:
    """A pseudo-random number in [0, 1) for ``key`` at ``step``."""
    return (mix((key + _GOLDEN * step) & MASK64) >> 11) * _TO_UNIT


def wander(key: int, t: float, period: float) -> float:
    """Smooth value noise in [0, 1] through a new random point every ``period`` seconds."""
    x = t / period
    step = math.floor(x)
    frac = x - step
    a = unit(key, step)
    b = unit(key, step + 1)
    return a + (b - a) * frac * frac * (3.0 - 2.0 * frac)


def walk(key: int, t: float) -> float:
    """A random walk in [-1, 1] around 0: a slow octave and a faster, smaller one."""
    slow = wander(key, t, SLOW_PERIOD)
    fast = wander(key ^ 0x5DEECE66D, t, FAST_PERIOD)
    return (slow * 0.7 + fast * 0.3) * 2.0 - 1.0


def level_in(key: int, low: float, high: float) -> float:
    """A device's own resting level inside [low, high], away from both ends."""
    return low + (high - low) * (0.2 + 0.6 * unit(key, 7))


def gauge(key: int, t: float, low: float, high: float) -> float:
    """A value that walks around its level inside [low, high]."""
    span = high - low
    value = level_in(key, low, high) + span * 0.18 * walk(key, t)
    return min(max(value, low), high)


def log_level(key: int, low: float, high: float) -> float:
    """A resting rate between ``low`` and ``high``, spread evenly on a log scale (traffic
    levels differ by orders of magnitude between quiet and busy ports)."""
    return float(low * (high / low) ** unit(key, 3))


def counter_delta(
    key: int, rate: float, t0: float, t: float, swing: float = TRAFFIC_SWING
) -> float:
    """What a counter adds from t0 to t while its rate wanders within ``rate * (1 +- swing)``
    per second (``swing`` < 1 keeps it from ever going backwards)."""
    if t <= t0 or rate <= 0.0:
        return 0.0
    amplitude = swing * rate * COUNTER_PERIOD / 1.5
    swing = wander(key, t, COUNTER_PERIOD) - wander(key, t0, COUNTER_PERIOD)
    return rate * (t - t0) + amplitude * swing
