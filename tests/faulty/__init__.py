"""Faulty recorders: the reference ``FileRecorder`` with one realistic bug each.

They prove the conformance suite has teeth (``tests/test_teeth.py``): the suite must grade each
one FAIL on the ``SPEC-*`` clause it names in ``BREAKS`` (or NON-STRICT for ``SD-*``-only
bugs, ``GRADE = "NON-STRICT"``). Each is a factory ``cls(channel) -> recorder``.
"""

from __future__ import annotations

from ._base import FaultyRecorder
from .api import (
    AddsWavExtension,
    ArgsRaisePlainValueError,
    AudioFalseBeforeJob,
    AudioTrueForSilence,
    DefaultMaxSilence3000,
    ErrorInsteadOfHangup,
    NoErrorWhenBusy,
    RecordDoesNotBlock,
    RecordsWhileOnHold,
    StartReturnsNone,
    StateStaysRecording,
    StopReturnsNone,
    StopSkipsCallCheckWhenIdle,
    WaitNoneReturnsAtOnce,
    WaitTimeoutEndsJob,
    WaitTimeoutReturnsNone,
)
from .audio import FirstFrameLost, FrameDuplicatedEvery100
from .causes import (
    HangupReportedAsAborted,
    SilenceReportedAsTimeout,
    StaleCauseDuringJob,
    StopLeavesCauseNone,
)
from .formats import (
    ImaNibblesSwapped,
    RateHeaderLies,
    RateIgnored,
    S16BigEndian,
    U8NotOffset,
    UlawWrittenAsAlaw,
)
from .headers import (
    ByteRateDoubled,
    DataSizeIncludesHeader,
    HeaderNeverFinalised,
    HeaderOverwritesSamples,
    ImaBlockAlignWrong,
    ImaFactMissing,
    RiffSizeNotPatched,
)
from .limits import (
    BargeInAlways,
    BargeInIgnored,
    ClaimsItCannotEndAlone,
    DigitBeforeJobBargesIn,
    HangupDeletesFile,
    HangupIgnored,
    HoldStopsJob,
    InitialSilenceIgnored,
    MaxBytesCountsHeader,
    MaxBytesZeroIsZero,
    MaxSilenceDuringInitialSilence,
    SilenceOneFrameEarly,
    SilenceOneFrameLate,
    SizeOneFrameOver,
    TimeoutIgnored,
)
from .store import (
    CipherIgnored,
    ErrorStateIdle,
    HeaderNotEncrypted,
    KeyInRepr,
    StoreFaultNoticedAtEnd,
    StoreFaultSwallowed,
)

__all__ = ["FaultyRecorder", "ALL", "SPEC_BUGS", "DECISION_BUGS"]

#: Every faulty recorder, in a stable order.
ALL: tuple[type[FaultyRecorder], ...] = (
    # cause
    SilenceReportedAsTimeout, HangupReportedAsAborted, StopLeavesCauseNone, StaleCauseDuringJob,
    # limits
    SilenceOneFrameEarly, SizeOneFrameOver, MaxBytesZeroIsZero, InitialSilenceIgnored,
    BargeInIgnored, BargeInAlways, TimeoutIgnored, HangupIgnored, ClaimsItCannotEndAlone,
    # formats and rates
    RateIgnored, RateHeaderLies, UlawWrittenAsAlaw, U8NotOffset, S16BigEndian, ImaNibblesSwapped,
    # headers
    HeaderNeverFinalised, RiffSizeNotPatched, DataSizeIncludesHeader, ByteRateDoubled,
    ImaBlockAlignWrong, ImaFactMissing, HeaderOverwritesSamples,
    # audio
    FirstFrameLost, FrameDuplicatedEvery100,
    # API: returns, exceptions, state, audio flag, defaults
    StopReturnsNone, StartReturnsNone, WaitTimeoutReturnsNone, WaitNoneReturnsAtOnce,
    RecordDoesNotBlock, ErrorInsteadOfHangup, NoErrorWhenBusy, StopSkipsCallCheckWhenIdle,
    RecordsWhileOnHold, StateStaysRecording, AudioFalseBeforeJob, AudioTrueForSilence,
    DefaultMaxSilence3000,
    # store and cipher
    StoreFaultSwallowed, ErrorStateIdle, CipherIgnored, HeaderNotEncrypted,
    # decisions only (NON-STRICT)
    SilenceOneFrameLate, MaxBytesCountsHeader, MaxSilenceDuringInitialSilence,
    DigitBeforeJobBargesIn, HangupDeletesFile, HoldStopsJob, WaitTimeoutEndsJob,
    AddsWavExtension, ArgsRaisePlainValueError, KeyInRepr, StoreFaultNoticedAtEnd,
)

SPEC_BUGS = tuple(c for c in ALL if c.BREAKS.startswith("SPEC-"))
DECISION_BUGS = tuple(c for c in ALL if c.BREAKS.startswith("SD-"))
