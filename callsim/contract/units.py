"""Units of a simulated call: integer time and the level reference.

Time is an ``int`` counting samples at 8 kHz since the call began (a *tick*): 1 ms is
``TICKS_PER_MS`` ticks, one 20 ms media frame is ``FRAME`` ticks. No float time is ever
accumulated: durations given in milliseconds or seconds are converted once, here.

Level: 0 dBm0 is an RMS of ``DBM0_RMS`` in 16-bit linear (a sine of peak about 22,827), the
A-law digital-milliwatt convention of ITU-T G.711 (a full-scale sine is +3.14 dBm0). Both the
far-end audio generators and any level decision (the reference's silence classifier, the timeline
plot) use this one constant, so a threshold drawn on a plot is the threshold decided on.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = [
    "DBM0_RMS",
    "FRAME",
    "FRAME_MS",
    "FULL_SCALE_SINE_DBM0",
    "SILENCE_THRESHOLD_DBM0",
    "TICKS_PER_MS",
    "TICKS_PER_SECOND",
    "dbm0_to_energy",
    "dbm0_to_rms",
    "ms_to_ticks",
    "rms_to_dbm0",
    "seconds_to_ticks",
    "ticks_to_ms",
    "ticks_to_seconds",
]

#: Ticks per second: the far-end audio's sample rate (8 kHz narrow-band telephony).
TICKS_PER_SECOND: Final = 8000
#: Ticks per millisecond.
TICKS_PER_MS: Final = TICKS_PER_SECOND // 1000
#: Length of one media frame in milliseconds.
FRAME_MS: Final = 20
#: Ticks (and far-end samples) per 20 ms media frame.
FRAME: Final = FRAME_MS * TICKS_PER_MS

#: Level of a full-scale sine in dBm0 (ITU-T G.711's A-law digital milliwatt sits 3.14 dB below).
FULL_SCALE_SINE_DBM0: Final = 3.14
#: RMS in 16-bit linear of a 0 dBm0 signal: 32768 * 10**(-3.14/20) / sqrt(2) = 16141.167...
DBM0_RMS: Final = 32768.0 * 10.0 ** (-FULL_SCALE_SINE_DBM0 / 20.0) / math.sqrt(2.0)

#: Decision SD-SILENCE (docs/spec-decisions.md): a 20 ms frame is audio when its level is at or
#: above this. The text fixes no level; the reference decides on it and the timeline plot draws it.
SILENCE_THRESHOLD_DBM0: Final = -45.0


def ms_to_ticks(ms: int) -> int:
    """Whole milliseconds to ticks (exact)."""
    return int(ms) * TICKS_PER_MS


def seconds_to_ticks(seconds: float) -> int:
    """Seconds (int or float) to ticks, rounded to the nearest tick (half to even)."""
    return int(round(seconds * TICKS_PER_SECOND))


def ticks_to_ms(ticks: int) -> float:
    """Ticks to milliseconds, for display only (never fed back into time)."""
    return ticks / TICKS_PER_MS


def ticks_to_seconds(ticks: int) -> float:
    """Ticks to seconds, for display only (never fed back into time)."""
    return ticks / TICKS_PER_SECOND


def dbm0_to_rms(dbm0: float) -> float:
    """RMS in 16-bit linear of a signal at ``dbm0`` (per tone for a sine)."""
    return float(DBM0_RMS * 10.0 ** (dbm0 / 20.0))


def rms_to_dbm0(rms: float) -> float:
    """Level in dBm0 of a signal whose RMS in 16-bit linear is ``rms`` (``-inf`` for zero)."""
    if rms <= 0.0:
        return -math.inf
    return 20.0 * math.log10(rms / DBM0_RMS)


def dbm0_to_energy(dbm0: float, n_samples: int = FRAME) -> int:
    """Integer energy ``sum(x**2)`` of ``n_samples`` samples of a signal at ``dbm0``."""
    return int(round(n_samples * DBM0_RMS**2 * 10.0 ** (dbm0 / 10.0)))
