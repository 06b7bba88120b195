"""The contract: the one module an implementer of the recorder API imports.

A recorder under test is built by a factory ``factory(channel) -> recorder`` and talks to the
simulated call only through that channel (``CallChannelLike``). This package holds every value,
exception, protocol and unit such a recorder needs, and nothing that belongs to one
implementation:

* the vendor's API values: ``CallState`` (14 call states), ``Cause`` and ``State`` (a recorder's
  own enums may be these), ``FORMATS`` and ``RATES``, the ``Cipher`` value an application passes
  (with public ``key``, ``iv`` and ``key_bits``; never shown by ``repr``/``str``), and the
  recorder's methods with their parameters and defaults (``API_METHODS``) and return values
  (``API_RETURNS``);
* the exceptions: ``Hangup``, ``Error``, ``ArgumentError`` (SD-ARGS), ``StoreError`` and its
  kinds, and the clock's ``Deadlock``/``SimulationLimit``;
* the seams: ``ClockLike``, ``Priority``, ``MediaSink`` with the scan/commit rules written out
  in ``callsim.contract.seams``, ``CallChannelLike``, ``StoreLike``/``StoreWriterLike``;
* the media-file naming rules (``validate_name``);
* the units: ticks (samples at 8 kHz), ``FRAME`` (20 ms = 160 ticks), ``ms_to_ticks``,
  ``seconds_to_ticks``, and the level reference ``DBM0_RMS`` (0 dBm0 in 16-bit linear).

``tests/test_architecture.py`` pins ``__all__``; names are added, never renamed.
"""

from .api import (
    API_METHODS,
    API_RETURNS,
    FORMATS,
    RATES,
    ArgumentError,
    CallState,
    Cause,
    Error,
    Hangup,
    State,
    safe_repr,
)
from .cipher import Cipher, CipherError, Encryptor
from .names import MAX_NAME_LENGTH, NAME_RULES, InvalidNameError, is_valid_name, validate_name
from .seams import (
    CallChannelLike,
    ClockLike,
    Deadlock,
    MediaSink,
    Priority,
    RecorderFactory,
    ScheduledEventLike,
    SimulationLimit,
    StoreError,
    StoreFullError,
    StoreLike,
    StoreNotFoundError,
    StoreWriterLike,
)
from .units import (
    DBM0_RMS,
    FRAME,
    FRAME_MS,
    FULL_SCALE_SINE_DBM0,
    SILENCE_THRESHOLD_DBM0,
    TICKS_PER_MS,
    TICKS_PER_SECOND,
    dbm0_to_energy,
    dbm0_to_rms,
    ms_to_ticks,
    rms_to_dbm0,
    seconds_to_ticks,
    ticks_to_ms,
    ticks_to_seconds,
)

__all__ = [
    "API_METHODS",
    "API_RETURNS",
    "ArgumentError",
    "CallChannelLike",
    "CallState",
    "Cause",
    "Cipher",
    "CipherError",
    "ClockLike",
    "DBM0_RMS",
    "Deadlock",
    "Encryptor",
    "Error",
    "FORMATS",
    "FRAME",
    "FRAME_MS",
    "FULL_SCALE_SINE_DBM0",
    "Hangup",
    "InvalidNameError",
    "MAX_NAME_LENGTH",
    "MediaSink",
    "NAME_RULES",
    "Priority",
    "RATES",
    "RecorderFactory",
    "SILENCE_THRESHOLD_DBM0",
    "ScheduledEventLike",
    "SimulationLimit",
    "State",
    "StoreError",
    "StoreFullError",
    "StoreLike",
    "StoreNotFoundError",
    "StoreWriterLike",
    "TICKS_PER_MS",
    "TICKS_PER_SECOND",
    "dbm0_to_energy",
    "dbm0_to_rms",
    "is_valid_name",
    "ms_to_ticks",
    "rms_to_dbm0",
    "safe_repr",
    "seconds_to_ticks",
    "ticks_to_ms",
    "ticks_to_seconds",
    "validate_name",
]
