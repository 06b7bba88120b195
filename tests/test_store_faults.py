"""Store faults during a recording (SD-ERROR, SD-FILES-LEFT, SD-STOP).

A clean run is counted first (how many ``write`` calls the job makes); then the Nth write fails
for every N of that run, the store runs out of space at several capacities part-way through, and
every commit fails. Each faulty run must end with state ``ERROR`` and cause ``ERROR``, leave no
file visible (or, when a file of that name existed, leave it byte-identical), no open writer and
no temporary file on disk, raise nothing out of the API (the reference reports through return
values: ``start()`` False when the header cannot be written, ``stop()`` False when publishing
fails), log exactly one ``job-end``, and the next job on the same recorder must work.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.decoders import decode_wav
from conformance.wavread import validate_wav
from recorder import Cause, Cipher, FileRecorder, State
from simulator import CallChannel, Clock, Error, Hangup
from simulator.audio import Timeline, Tone
from simulator.store import FaultPlan, MediaStore, StoreWrite

FORMATS = ("alaw", "ulaw", "oki", "ima", "s16bit", "u8bit")
STEPS = 20  # the app polls 20 times, 100 ms apart: each poll ends a media block (one write)
KEY, IV = "00112233445566778899aabbccddeeff", "0f0e0d0c0b0a09080706050403020100"


class CountingStore(MediaStore):
    """A media store that counts ``write`` calls through its write observer (an oracle
    independent of the fault counter)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.writes = 0
        super().__init__(*args, on_write=self._observe_write, **kwargs)

    def _observe_write(self, write: StoreWrite) -> None:
        if write.op == "write":
            self.writes += 1


def make_channel(root: Path | None = None) -> CallChannel:
    clock = Clock()
    store = CountingStore(root, clock=lambda: clock.now)
    audio = Timeline((Tone(start=0, duration=60 * 8000, freqs=(440.0, 1130.0), level_dbm0=-12),))
    return CallChannel(clock, recorder_factory=FileRecorder, audio=audio, store=store)


def call_api(fn: Callable[[], Any]) -> Any:
    """Run one API call; the spec's exceptions would be results, anything else fails the test.

    With a healthy call the reference raises nothing at all on a store fault (SD-ERROR), so even
    ``Hangup``/``Error`` count as failures here.
    """
    try:
        return fn()
    except (Hangup, Error) as exc:  # pragma: no cover - reported with a clear message
        pytest.fail(f"the API raised {type(exc).__name__} on a store fault: {exc}")


def polled_job(ch: CallChannel, fmt: str, cipher: Any = None) -> tuple[bool, bool]:
    """start(), 20 polls of 100 ms, stop(); returns (start's result, stop's result)."""
    r = ch.FileRecorder
    started = call_api(lambda: r.start(filename="f.wav", file_format=fmt, cipher=cipher))
    for _ in range(STEPS):
        ch.sleep(0.1)
    ch.writes_before_stop = ch.store.writes  # type: ignore[attr-defined]
    stopped = call_api(r.stop)
    return started, stopped


def clean_write_count(fmt: str, cipher: Any = None) -> tuple[int, int, int]:
    """(write calls, write calls before stop(), file size) of the fault-free run."""
    ch = make_channel()
    assert polled_job(ch, fmt, cipher) == (True, True)
    assert ch.FileRecorder.cause() is Cause.ABORTED
    return ch.store.writes, ch.writes_before_stop, len(ch.store.read("f.wav"))  # type: ignore[attr-defined]


def assert_failed_cleanly(ch: CallChannel, before: dict[str, bytes], where: str) -> None:
    r = ch.FileRecorder
    assert r.state() is State.ERROR and r.cause() is Cause.ERROR, where
    assert ch.store.list() == sorted(before), f"{where}: a file appeared"
    for name, data in before.items():
        assert ch.store.read(name) == data, f"{where}: the earlier {name} changed"
    assert ch.store.open_writers() == 0, where
    ends = [e for e in ch.log.of_kind("job-end")]
    assert ends[-1]["cause"] == "ERROR" and ends[-1]["state"] == "ERROR", where
    root = ch.store.root
    if root is not None:
        on_disk = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        assert on_disk == sorted(before), f"{where}: stray files on disk {on_disk}"


def assert_next_job_works(ch: CallChannel, fmt: str) -> None:
    ch.store.faults = FaultPlan()
    r = ch.FileRecorder
    assert call_api(lambda: r.record(filename="next.wav", file_format=fmt, seconds_timeout=1)) is Cause.TIMEOUT
    assert r.state() is State.IDLE
    data = ch.store.read("next.wav")
    assert validate_wav(data, fmt, 8000) == []
    assert len(decode_wav(data)[1]) == 8000


@pytest.mark.parametrize("fmt", FORMATS)
def test_fail_every_write(fmt: str) -> None:
    """SD-ERROR: the Nth write fails, for every N of a clean run: ERROR/ERROR, no file."""
    writes, before_stop, _size = clean_write_count(fmt)
    assert writes >= STEPS, f"the clean run made only {writes} writes"
    for n in range(1, writes + 1):
        ch = make_channel()
        ch.store.faults = FaultPlan(fail_write_n=n)
        started, stopped = polled_job(ch, fmt)
        where = f"{fmt}: write {n} of {writes} fails"
        # SD-START-FALSE: only the header write happens before recording begins
        assert started is (n != 1), where
        # SD-STOP: False only when the failing write is stop()'s own (the ADPCM encoders flush
        # their last partial block when the job ends); else the job had already failed.
        assert stopped is (n <= before_stop), where
        assert_failed_cleanly(ch, {}, where)
        assert len(ch.log.of_kind("job-end")) == 1, where
        assert_next_job_works(ch, fmt)
    # N one past the clean count: no fault happens, the file is published
    ch = make_channel()
    ch.store.faults = FaultPlan(fail_write_n=writes + 1)
    assert polled_job(ch, fmt) == (True, True)
    assert ch.FileRecorder.cause() is Cause.ABORTED and ch.store.list() == ["f.wav"]


@pytest.mark.parametrize("fmt", ["alaw", "ima", "s16bit"])
def test_fail_every_write_keeps_the_earlier_file(fmt: str, tmp_path: Path) -> None:
    """SD-FILES-LEFT: a failed job leaves an earlier file of the same name byte-identical
    (directory store: no temporary file or folder left on disk either)."""
    writes, _before_stop, _size = clean_write_count(fmt)
    for n in range(1, writes + 1):
        root = tmp_path / f"n{n}"
        ch = make_channel(root)
        assert ch.FileRecorder.record(filename="f.wav", file_format=fmt, seconds_timeout=0.5) is Cause.TIMEOUT
        before = {"f.wav": ch.store.read("f.wav")}
        ch.store.faults = FaultPlan(fail_write_n=n)
        polled_job(ch, fmt)
        assert_failed_cleanly(ch, before, f"{fmt}: write {n} fails over an existing file")
        assert_next_job_works(ch, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_out_of_space_part_way(fmt: str) -> None:
    """SD-ERROR: the store fills up at several points of the recording (header included)."""
    _writes, _before_stop, size = clean_write_count(fmt)
    header = header_size(fmt)
    capacities = [0, 1, header - 1, header, header + 1, size // 4, size // 2, size - 1]
    for cap in capacities:
        ch = make_channel()
        ch.store.faults = FaultPlan(capacity_bytes=cap)
        started, _stopped = polled_job(ch, fmt)
        where = f"{fmt}: capacity {cap} of {size}"
        assert_failed_cleanly(ch, {}, where)
        assert started is (cap >= header), where
        assert_next_job_works(ch, fmt)
    ch = make_channel()
    ch.store.faults = FaultPlan(capacity_bytes=size)  # exactly enough
    assert polled_job(ch, fmt) == (True, True)
    assert ch.store.list() == ["f.wav"] and len(ch.store.read("f.wav")) == size


def header_size(fmt: str) -> int:
    """The reference's header length for ``fmt``, read from a real file by the independent reader."""
    ch = make_channel()
    ch.FileRecorder.record(filename="h.wav", file_format=fmt, seconds_timeout=0.1)
    from conformance.wavread import parse_wav

    return parse_wav(ch.store.read("h.wav")).data_offset


@pytest.mark.parametrize("fmt", ["alaw", "oki", "u8bit"])
def test_commit_failure(fmt: str, tmp_path: Path) -> None:
    """SD-STOP / SD-ERROR: publishing fails -> stop() returns False, ERROR/ERROR, no file."""
    for root in (None, tmp_path / "d"):
        ch = make_channel(root)
        ch.store.faults = FaultPlan(fail_commit=True)
        started, stopped = polled_job(ch, fmt)
        assert (started, stopped) == (True, False)
        assert_failed_cleanly(ch, {}, f"{fmt}: commit fails ({'dir' if root else 'memory'})")
        assert_next_job_works(ch, fmt)


@pytest.mark.parametrize("fault", ["write1", "full", "commit"])
def test_cipher_job_faults(fault: str) -> None:
    """SD-CIPHER + SD-ERROR: an encrypted job writes once, at the end; failing it gives ERROR."""
    cipher = Cipher(KEY, IV)
    writes, _before_stop, size = clean_write_count("alaw", cipher)
    assert writes == 1  # SD-CIPHER: nothing is stored before the whole file is encrypted
    plan = {"write1": FaultPlan(fail_write_n=1), "full": FaultPlan(capacity_bytes=size - 1),
            "commit": FaultPlan(fail_commit=True)}[fault]
    ch = make_channel()
    ch.store.faults = plan
    assert polled_job(ch, "alaw", cipher) == (True, False)
    assert_failed_cleanly(ch, {}, f"cipher, {fault}")
    assert_next_job_works(ch, "alaw")


def test_record_blocking_fault_returns_error() -> None:
    """SD-ERROR: record() whose writes fail returns ERROR (no exception), for every write N."""
    ch = make_channel()
    r = ch.FileRecorder
    assert r.record(filename="f.wav", seconds_timeout=25) is Cause.TIMEOUT  # 3 blocks of 10 s
    writes = ch.store.writes  # type: ignore[attr-defined]
    assert writes == 4
    for n in range(1, writes + 1):
        ch = make_channel()
        ch.store.faults = FaultPlan(fail_write_n=n)
        rec = ch.FileRecorder
        assert call_api(lambda: rec.record(filename="f.wav", seconds_timeout=25)) is Cause.ERROR  # noqa: B023
        assert_failed_cleanly(ch, {}, f"record, write {n} fails")
        assert_next_job_works(ch, "alaw")


def test_no_temporary_files_survive_on_disk(tmp_path: Path) -> None:
    """Directory store: after every fault kind, only published files remain under the root."""
    root = tmp_path / "store"
    ch = make_channel(root)
    for plan in (FaultPlan(fail_write_n=1), FaultPlan(fail_write_n=5), FaultPlan(capacity_bytes=3000),
                 FaultPlan(fail_commit=True)):
        ch.store.faults = plan
        polled_job(ch, "s16bit")
        assert ch.FileRecorder.state() is State.ERROR
    ch.store.faults = FaultPlan()
    polled_job(ch, "s16bit")
    assert sorted(os.listdir(root)) == ["f.wav"]


class SloppyStore(CountingStore):
    """A store whose Nth write raises a bare OSError and does NOT abort the writer itself (as a
    third-party store might): the recorder must abort it (no writer may stay open). The write
    observer raises, which leaves the writer open and unchanged."""

    def __init__(self, fail_n: int, *args: Any, **kwargs: Any) -> None:
        self.fail_n = fail_n
        super().__init__(*args, **kwargs)

    def _observe_write(self, write: StoreWrite) -> None:
        super()._observe_write(write)
        if write.op == "write" and self.writes == self.fail_n:
            raise OSError("the disk went away")


@pytest.mark.parametrize("fmt", ["alaw", "ima"])
def test_store_that_does_not_abort_its_writer(fmt: str) -> None:
    """SD-ERROR: whatever write fails (header in start(), audio mid-way, the last flush in stop())
    and whatever it raises, the recorder aborts the writer: nothing open, nothing published."""
    writes, _before, _size = clean_write_count(fmt)
    for n in range(1, writes + 1):
        clock = Clock()
        store = SloppyStore(n, clock=lambda c=clock: c.now)  # type: ignore[misc]
        audio = Timeline((Tone(start=0, duration=60 * 8000, freqs=(440.0,), level_dbm0=-12),))
        ch = CallChannel(clock, recorder_factory=FileRecorder, audio=audio, store=store)
        polled_job(ch, fmt)
        assert_failed_cleanly(ch, {}, f"{fmt}: sloppy store, write {n} raises OSError")
        store.fail_n = 0
        assert_next_job_works(ch, fmt)
