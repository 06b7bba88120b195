"""Bad arguments to the reference recorder (decisions SD-ARGS and SD-NAME).

For every parameter of ``record``, ``start`` and ``wait_until_finished`` (``stop`` takes none):
wrong types, negative, zero where not allowed, huge, NaN, +-inf, bool where an int is expected,
unknown format and rate, and file names breaking the naming rules. Each must raise
``simulator.ArgumentError`` (an ``Error`` and a ``ValueError``) whose message names the
parameter and the value (for a cipher: never the key material) and must change nothing: no file,
no open writer, no store event, no log entry, no virtual time, state/cause/audio flag unchanged
(also after a previous job's SILENCE or ERROR, and during a running job), and a following valid
call works. A hypothesis property throws generated garbage at ``record``/``start`` and checks the
outcome against an oracle written here from SD-ARGS (not from the recorder's code).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder import Cause, Cipher, FileRecorder, State
from simulator import ArgumentError, CallChannel, CallState, Error, Hangup
from simulator.store import FaultPlan
from tests.helpers import make_call, ms, read_wav, tone

KEY = "8f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff"
IV = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
MAX_SECONDS = 7 * 24 * 3600
MAX_MS = MAX_SECONDS * 1000
RIFF_MAX = 2**32 - 1

# -- the bad values, per parameter ----------------------------------------------------------------
WRONG_TYPES: list[Any] = [None, b"x", [1], {"a": 1}, object(), 1 + 0j]

BAD_NAMES: list[Any] = [
    "", "..", "../up.wav", "a/../b", "a..b", "a//b", "//a", "a/./b", "./a", "a/.", ".",
    "/abs.wav", "/tmp/x.wav", "a/", "a\x00b", "\x00", "a\nb", "a\tb", "a\rb", "\x1b[31m", "\x7f",
    "caf\u00e9.wav", "\u0444\u0430\u0439\u043b", "\u0661\u0662", "a b", "a\\b", "C:\\x.wav",
    "~/x", "a*b", "a?b", "a:b", "a" * 256, "b" * 100_000, "\ufeffa", "a\u2028b",
    b"rec.wav", None, 1, ["a"], PurePosixPath("a.wav"),
]

BAD_FORMATS: list[Any] = ["", "ALAW", "Alaw", "wav", "pcm", "mp3", "alaw ", " alaw", "alaw\x00",
                          "gsm", "s16", "16bit", True, 0, None, b"alaw", ["alaw"]]
BAD_RATES: list[Any] = [0, -8000, 1, 7999, 8001, 16000, 22050, 44100, 48000, 10**30, -(10**30),
                        8000.0, 11025.0, float("nan"), float("inf"), float("-inf"), True, False,
                        "8000", None, b"8000", Decimal(8000), Fraction(8000), 8000 + 0j]
BAD_TIMEOUT_RECORD: list[Any] = [0, 0.0, -0.0, -1, -1e-9, -(10**30), float("nan"), float("inf"),
                                 float("-inf"), MAX_SECONDS + 1, MAX_SECONDS + 1e-3, 1e300,
                                 10**400, -(10**400), Fraction(10**400, 3), np.float64("nan"),
                                 True, False, "120", None, b"1", Decimal("1"), 1 + 0j, [120]]
BAD_TIMEOUT_WAIT: list[Any] = [-1, -1e-9, -(10**30), float("nan"), float("inf"), float("-inf"),
                               MAX_SECONDS + 1, 1e300, 10**400, -(10**400), True, False, "1",
                               b"1", Decimal("1"), 1j, [1], object()]
BAD_MAX_BYTES: list[Any] = [-1, -(10**30), RIFF_MAX + 1, 2**64, 10**400, 1.0, 1000.5,
                            float("nan"), float("inf"), True, False, "1000", None, Decimal(1000),
                            np.float64(1000)]
BAD_MS: list[Any] = [-1, -20, -(10**30), MAX_MS + 1, 10**400, 1.5, 20.0, float("nan"),
                     float("inf"), float("-inf"), True, False, "100", None, Fraction(20),
                     np.float32(20)]
BAD_BARGE_IN: list[Any] = [1, 0, "True", "false", None, 1.0, np.bool_(True), [True]]
BAD_CIPHERS: list[Any] = [KEY, KEY + IV, KEY.encode(), {"key": KEY, "iv": IV}, (KEY, IV), 1,
                          True, object()]

RECORD_PARAMS: dict[str, list[Any]] = {
    "filename": BAD_NAMES,
    "file_format": BAD_FORMATS,
    "rate": BAD_RATES,
    "seconds_timeout": BAD_TIMEOUT_RECORD,
    "max_bytes": BAD_MAX_BYTES,
    "milliseconds_max_silence": BAD_MS,
    "milliseconds_initial_silence": BAD_MS,
    "barge_in": BAD_BARGE_IN,
    "cipher": BAD_CIPHERS,
}


def _cases() -> list[Any]:
    out = []
    for method in ("record", "start"):
        for param, values in RECORD_PARAMS.items():
            if method == "start" and param == "seconds_timeout":
                continue
            for i, v in enumerate(values):
                out.append(pytest.param(method, param, v, id=f"{method}-{param}-{i}"))
    for i, v in enumerate(BAD_TIMEOUT_WAIT):
        out.append(pytest.param("wait_until_finished", "seconds_timeout", v, id=f"wait-{i}"))
    return out


# -- helpers --------------------------------------------------------------------------------------
def _snapshot(ch: CallChannel) -> tuple[Any, ...]:
    """Everything a rejected call must leave untouched."""
    r = ch.FileRecorder
    names = tuple(ch.store.list())
    return (
        r.state(), r.cause(), r.audio_detected_in_recording(), names,
        tuple(ch.store.read(n) for n in names), ch.store.open_writers(), len(ch.store.events),
        len(ch.log), ch.clock.now, len(ch.media_sinks()),
    )


def _prepare(prev: str) -> CallChannel:
    """A call whose recorder is fresh, after a SILENCE job, after an ERROR job, or recording."""
    ch = make_call(tone(0, 400, level=-10), tone(5000, 60_000, level=-10))
    r = ch.FileRecorder
    if prev == "SILENCE":
        assert r.record(filename="prev.wav", milliseconds_max_silence=200) is Cause.SILENCE
    elif prev == "ERROR":
        ch.store.faults = FaultPlan(fail_write_n=2)
        assert r.record(filename="prev.wav", milliseconds_max_silence=200) is Cause.ERROR
        ch.store.faults = FaultPlan()
        assert r.state() is State.ERROR
    elif prev == "RECORDING":
        ch.sleep(5.0)
        assert r.start(filename="prev.wav", milliseconds_max_silence=0, max_bytes=0) is True
    return ch


def _valid_call(ch: CallChannel, method: str) -> None:
    """The call after a rejected one works and produces a readable file."""
    r = ch.FileRecorder
    if method == "wait_until_finished":
        if r.state() is State.RECORDING:
            ch.sleep(0.2)
            assert r.stop() is True
        else:
            assert r.wait_until_finished(1) in set(Cause)
        return
    if method == "record":
        assert r.record(filename="ok.wav", seconds_timeout=0.5) is Cause.TIMEOUT
    else:
        assert r.start(filename="ok.wav") is True
        ch.sleep(0.5)
        assert r.stop() is True
    assert r.state() is State.IDLE
    x, rate = read_wav(ch.store.read("ok.wav"))
    assert rate == 8000 and len(x) == ms(500)


def _call(ch: CallChannel, method: str, param: str, value: Any) -> Callable[[], Any]:
    r = ch.FileRecorder
    if method == "wait_until_finished":
        return lambda: r.wait_until_finished(seconds_timeout=value)
    kwargs: dict[str, Any] = {"filename": "new.wav", param: value}
    if method == "record" and param != "seconds_timeout":
        kwargs.setdefault("seconds_timeout", 1)
    return lambda: getattr(r, method)(**kwargs)


def _check_message(exc: ArgumentError, param: str, value: Any) -> None:
    msg = str(exc)
    assert exc.parameter == param
    assert param in msg
    assert len(msg) < 600, "messages stay short even for huge values"
    if param == "cipher":
        # the type is named; key material never (SD-CIPHER)
        assert type(value).__name__ in msg
        for secret in (KEY, IV, KEY.upper(), KEY[:16], IV[:16]):
            assert secret not in msg and secret not in repr(exc.value)
    else:
        assert repr(value)[:40] in msg, f"value not named in {msg!r}"


# -- the table of bad values ------------------------------------------------------------------------
@pytest.mark.parametrize("method,param,value", _cases())
def test_bad_argument_rejected_and_nothing_changes(method: str, param: str, value: Any) -> None:
    """SD-ARGS: ArgumentError naming parameter and value; state, cause, files, time unchanged."""
    prevs = ("none", "SILENCE", "ERROR") + (("RECORDING",) if method == "wait_until_finished" else ())
    for prev in prevs:
        ch = _prepare(prev)
        before = _snapshot(ch)
        with pytest.raises(ArgumentError) as info:
            _call(ch, method, param, value)()
        exc = info.value
        assert isinstance(exc, Error) and isinstance(exc, ValueError)
        _check_message(exc, param, value)
        assert _snapshot(ch) == before, f"state changed after a rejected {method} (prev {prev})"
        assert not ch.store.exists("new.wav")  # open writers: compared in the snapshot
        _valid_call(ch, method)


def test_stop_takes_no_arguments() -> None:
    """SPEC-STOP: stop() has no parameters; passing one is a TypeError and changes nothing."""
    ch = _prepare("RECORDING")
    before = _snapshot(ch)
    with pytest.raises(TypeError):
        ch.FileRecorder.stop(True)  # type: ignore[call-arg]
    assert _snapshot(ch) == before
    assert ch.FileRecorder.stop() is True and ch.FileRecorder.cause() is Cause.ABORTED


@pytest.mark.parametrize("value", [0, 0.0, None, 10**-300])
def test_wait_accepts_zero_and_none(value: Any) -> None:
    """SD-ARGS: wait_until_finished takes >= 0 or None (boundary values are not errors)."""
    ch = _prepare("RECORDING")
    r = ch.FileRecorder
    if value is None:
        ch.schedule_state(ch.clock.now + ms(300), CallState.IDLE)
        assert r.wait_until_finished(value) is Cause.HANGUP
    else:
        assert r.wait_until_finished(value) is Cause.TIMEOUT
        assert r.state() is State.RECORDING


@pytest.mark.parametrize("param,value", [
    ("seconds_timeout", MAX_SECONDS), ("max_bytes", RIFF_MAX), ("max_bytes", 0),
    ("milliseconds_max_silence", MAX_MS), ("milliseconds_initial_silence", MAX_MS),
    ("rate", np.int64(11025)), ("max_bytes", np.uint32(1000)), ("seconds_timeout", Fraction(1, 2)),
    ("seconds_timeout", np.float32(0.5)), ("filename", "a" * 255), ("filename", "a/b/c@d-e_f.g"),
])
def test_boundary_values_are_accepted(param: str, value: Any) -> None:
    """SD-ARGS / SD-NAME: the largest allowed values and numpy/Fraction numbers are valid."""
    ch = make_call(tone(0, 60_000))
    ch.schedule_state(ms(700), CallState.IDLE)
    kwargs = {"filename": "ok.wav", param: value}
    cause = ch.FileRecorder.record(**kwargs)
    assert cause in (Cause.HANGUP, Cause.TIMEOUT, Cause.SIZE)
    assert ch.store.list() == [kwargs["filename"]]


def test_call_state_and_busy_checks_come_before_arguments() -> None:
    """SD-ARGS: the call-state check (Hangup/Error) and the busy check precede argument checks."""
    ch = make_call(state=CallState.IDLE)
    with pytest.raises(Hangup):
        ch.FileRecorder.record(filename="../x", rate=-1)
    ch = make_call(state=CallState.ON_HOLD)
    with pytest.raises(Error) as info:
        ch.FileRecorder.start(filename="", rate=1)
    assert type(info.value) is Error
    ch = _prepare("RECORDING")
    with pytest.raises(Error) as info:
        ch.FileRecorder.record(filename="/abs", file_format="mp3")
    assert type(info.value) is Error, "busy is reported, not the bad argument"
    assert ch.FileRecorder.state() is State.RECORDING and ch.store.list() == []


def test_directory_store_gets_no_file_or_folder_for_bad_names(tmp_path: Any) -> None:
    """SD-NAME: a rejected name creates nothing on disk (no folder, no temporary file)."""
    from simulator import Clock
    from simulator.store import MediaStore

    clock = Clock()
    root = tmp_path / "store"
    store = MediaStore(root, clock=lambda: clock.now)
    ch = CallChannel(clock, recorder_factory=FileRecorder, store=store)
    for name in BAD_NAMES:
        if isinstance(name, str):
            with pytest.raises(ArgumentError):
                ch.FileRecorder.start(filename=name)
    assert list(tmp_path.rglob("*")) == [root]


# -- the property over garbage ----------------------------------------------------------------------
_NAME_RE = re.compile(r"[A-Za-z0-9._/@-]{1,255}")


def _oracle_name(v: Any) -> bool:
    if not isinstance(v, str) or not _NAME_RE.fullmatch(v):
        return False
    return not (v.startswith("/") or v.endswith("/") or "//" in v or ".." in v
                or "." in v.split("/"))


def _oracle_int(v: Any, lo: int, hi: int) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and lo <= int(v) <= hi


def _oracle_seconds(v: Any, allow_zero: bool) -> bool:
    # SD-ARGS: a real number of seconds; compared as the float it converts to.
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return False
    try:
        f = float(v)
    except OverflowError:
        return False
    return math.isfinite(f) and (f >= 0 if allow_zero else f > 0) and f <= MAX_SECONDS


ORACLE: dict[str, Callable[[Any], bool]] = {
    "filename": _oracle_name,
    "file_format": lambda v: isinstance(v, str) and v in ("alaw", "ulaw", "oki", "ima", "s16bit", "u8bit"),
    "rate": lambda v: _oracle_int(v, 0, 10**6) and int(v) in (8000, 6000, 11000, 11025),
    "seconds_timeout": lambda v: _oracle_seconds(v, allow_zero=False),
    "max_bytes": lambda v: _oracle_int(v, 0, RIFF_MAX),
    "milliseconds_max_silence": lambda v: _oracle_int(v, 0, MAX_MS),
    "milliseconds_initial_silence": lambda v: _oracle_int(v, 0, MAX_MS),
    "barge_in": lambda v: isinstance(v, bool),
    "cipher": lambda v: v is None or isinstance(v, Cipher),
}

_garbage = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-5, 10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.text(alphabet="ab./@_-", max_size=12), st.binary(max_size=12),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.fractions(), st.decimals(allow_nan=True), st.complex_numbers(max_magnitude=1e6),
    st.integers(-3, 3).map(np.int64), st.floats(-10, 10).map(np.float64),
    st.sampled_from([np.bool_(False), object(), KEY, Cipher(KEY, IV), "x" * 300]),
)
_valid = {
    "filename": st.from_regex(r"[A-Za-z0-9_@-]{1,8}(/[A-Za-z0-9_@-]{1,8}){0,2}(\.wav)?", fullmatch=True),
    "file_format": st.sampled_from(["alaw", "ulaw", "oki", "ima", "s16bit", "u8bit"]),
    "rate": st.sampled_from([8000, 6000, 11000, 11025]),
    "seconds_timeout": st.one_of(st.floats(0.001, 5), st.integers(1, MAX_SECONDS)),
    "max_bytes": st.one_of(st.integers(0, 5000), st.just(RIFF_MAX)),
    "milliseconds_max_silence": st.integers(0, 2000),
    "milliseconds_initial_silence": st.integers(0, 2000),
    "barge_in": st.booleans(),
    "cipher": st.sampled_from([None, Cipher(KEY, IV)]),
}


@st.composite
def _arg_dicts(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    method = draw(st.sampled_from(["record", "start"]))
    params = [p for p in RECORD_PARAMS if not (method == "start" and p == "seconds_timeout")]
    args: dict[str, Any] = {}
    for p in params:
        mode = draw(st.sampled_from(["valid", "valid", "valid", "garbage", "default"]))
        if mode == "garbage":
            args[p] = draw(_garbage)
        elif mode == "valid" or p == "filename":
            args[p] = draw(_valid[p])
    return method, args


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_arg_dicts(), st.sampled_from(["none", "SILENCE", "ERROR"]))
def test_garbage_arguments_property(case: tuple[str, dict[str, Any]], prev: str) -> None:
    """SD-ARGS property: any argument mix either starts a valid job or raises ArgumentError
    (for one of the parameters the oracle calls invalid) with nothing changed; never another
    exception type."""
    _check_garbage(case, prev)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_arg_dicts(), st.sampled_from(["none", "SILENCE", "ERROR"]))
def test_garbage_arguments_property_deep(case: tuple[str, dict[str, Any]], prev: str) -> None:
    """The same SD-ARGS property with 5,000 examples (slow)."""
    _check_garbage(case, prev)


def _check_garbage(case: tuple[str, dict[str, Any]], prev: str) -> None:
    method, args = case
    ch = _prepare(prev)
    ch.schedule_state(ch.clock.now + ms(300), CallState.IDLE)  # any valid record ends quickly
    bad = {p for p, v in args.items() if not ORACLE[p](v)}
    before = _snapshot(ch)
    r = ch.FileRecorder
    try:
        result = getattr(r, method)(**args)
    except ArgumentError as exc:
        assert bad, f"valid arguments rejected: {exc}"
        assert exc.parameter in bad
        assert _snapshot(ch) == before
        return
    assert not bad, f"invalid {sorted(bad)} accepted"
    name = args["filename"]
    if method == "start":
        assert result is True and r.state() is State.RECORDING
        assert r.stop() is True
    else:
        assert isinstance(result, Cause) and result is not Cause.ERROR
    assert ch.store.exists(name) and ch.store.open_writers() == 0


def test_int_too_long_to_print_still_gives_argument_error() -> None:
    """SD-ARGS: even an int too long for repr() yields ArgumentError, not a bare ValueError."""
    ch = make_call()
    with pytest.raises(ArgumentError):
        ch.FileRecorder.start(filename="x", max_bytes=10**5000)
