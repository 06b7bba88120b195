"""The measured workloads, each a function returning seconds of wall and CPU time.

Every workload builds its own inputs outside the timed region, so a figure is the cost of the
operation alone. ``run.py`` calls these in a fresh subprocess per measurement (``python -m
bench.workloads NAME ARGS...``) so peak RSS and the BLAS thread setting are per measurement.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = ["WORKLOADS", "speech_audio"]

Timing = dict[str, Any]


def _timed(fn: Callable[[], Any]) -> Timing:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return {"wall": time.perf_counter() - w0, "cpu": time.process_time() - c0}


def _speech_timeline(seconds: int) -> Any:
    from simulator.audio import Speech, Timeline

    # Bundled speech clips with the default natural pauses (200..1500 ms), -20 dBm0, no digits.
    return Timeline((Speech(start=0, duration=(seconds + 60) * 8000),), seed=6)


def speech_audio(seconds: int) -> np.ndarray:
    """The pipeline scenario's far-end audio as int16 (rendered once, outside any timing)."""
    return _speech_timeline(seconds).render(0, seconds * 8000)


def pipeline(fmt: str, rate: int, seconds: int) -> Timing:
    """Full pipeline: audio generation, silence + DTMF detection (barge-in), encoding, WAV file."""
    from simulator.channel import CallChannel
    from simulator.clock import Clock
    from simulator.store import MediaStore

    with tempfile.TemporaryDirectory() as d:
        clock = Clock()
        from recorder import FileRecorder

        channel = CallChannel(
            clock, audio=_speech_timeline(seconds), store=MediaStore(root=d, clock=lambda: clock.now),
            recorder_factory=FileRecorder,
        )
        rec = channel.FileRecorder
        result: dict[str, Any] = {}

        def go() -> None:
            result["cause"] = rec.record(
                "bench.wav", fmt, rate, seconds_timeout=seconds, max_bytes=0,
                milliseconds_max_silence=5000, barge_in=True,
            ).value

        t = _timed(go)
        t["cause"] = result["cause"]
        t["bytes"] = (Path(d) / "bench.wav").stat().st_size
    return t


def ref_soundfile(fmt: str, rate: int, seconds: int) -> Timing:
    """libsndfile (soundfile) writing the same audio to a WAV/VOX file: the codec reference."""
    import soundfile as sf

    x = speech_audio(seconds)
    subtype = {"alaw": "ALAW", "ulaw": "ULAW", "s16bit": "PCM_16", "u8bit": "PCM_U8",
               "ima": "IMA_ADPCM", "oki": "VOX_ADPCM"}[fmt]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ref.raw" if fmt == "oki" else "ref.wav")
        kw = {"format": "RAW"} if fmt == "oki" else {"format": "WAV"}
        return _timed(lambda: sf.write(path, x, rate, subtype=subtype, **kw))


def ref_resample_poly(rate: int, seconds: int) -> Timing:
    """scipy.signal.resample_poly of the same audio (whole signal): the resampling reference."""
    from scipy.signal import resample_poly

    from recorder.resample import RATIOS

    x = speech_audio(seconds).astype(np.float64)
    up, down = RATIOS[rate]
    return _timed(lambda: resample_poly(x, up, down))


def encoder(fmt: str, seconds: int) -> Timing:
    """Our streaming encoder alone, fed in the clock's 10 s blocks."""
    from recorder.codecs import make_encoder
    from simulator.clock import FRAME, MAX_BLOCK_FRAMES

    x = speech_audio(seconds)
    blk = FRAME * MAX_BLOCK_FRAMES

    def go() -> None:
        enc = make_encoder(fmt)
        for i in range(0, x.size, blk):
            enc.encode(x[i : i + blk])
        enc.flush()

    return _timed(go)


def resampler(rate: int, seconds: int) -> Timing:
    """Our streaming resampler alone, fed in the clock's 10 s blocks."""
    from recorder.resample import StreamResampler
    from simulator.clock import FRAME, MAX_BLOCK_FRAMES

    x = speech_audio(seconds)
    blk = FRAME * MAX_BLOCK_FRAMES

    def go() -> None:
        r = StreamResampler(rate)
        for i in range(0, x.size, blk):
            r.process(x[i : i + blk])
        r.flush()

    return _timed(go)


def render(seconds: int) -> Timing:
    """Far-end audio generation alone (Timeline.render in the clock's 10 s blocks)."""
    from simulator.clock import FRAME, MAX_BLOCK_FRAMES

    tl = _speech_timeline(seconds)
    blk = FRAME * MAX_BLOCK_FRAMES
    return _timed(lambda: [tl.render(a, min(a + blk, seconds * 8000)) for a in range(0, seconds * 8000, blk)])


def dtmf(seconds: int) -> Timing:
    """DTMF detector alone on the pipeline's speech, in the clock's 10 s blocks."""
    from recorder.detect import DtmfDetector
    from simulator.clock import FRAME, MAX_BLOCK_FRAMES

    frames = speech_audio(seconds).reshape(-1, FRAME)
    det = DtmfDetector()

    def go() -> None:
        st = det.initial_state()
        for i in range(0, len(frames), MAX_BLOCK_FRAMES):
            _, st = det.scan(frames[i : i + MAX_BLOCK_FRAMES], st)

    t = _timed(go)
    t["samples"] = int(frames.size)
    return t


def dtmf_probe(seconds: int) -> Timing:
    """The issue's probe: one matrix product for 16 DFT bins on 160-sample frames."""
    frames = speech_audio(seconds).reshape(-1, 160).astype(np.float64)
    n = np.arange(160)
    f = np.array([697, 770, 852, 941, 1209, 1336, 1477, 1633], float)
    f = np.concatenate([f, 2 * f])
    basis = np.concatenate([np.cos(2 * np.pi * np.outer(n, f) / 8000), np.sin(2 * np.pi * np.outer(n, f) / 8000)], 1)
    t = _timed(lambda: frames @ basis)
    t["samples"] = int(frames.size)
    return t


def blas_limit(calls: int) -> Timing:
    """What limiting BLAS to one thread costs per detector scan, in us per call: a fresh
    ``threadpool_limits(1, "blas")`` (finds the loaded libraries on every call), a cached
    ``ThreadpoolController``'s ``limit``, and the detector's own context; with a 10 s block's
    scan for scale (``wall`` is the detector context's total over ``calls``). Per-call figures
    are CPU time."""
    from threadpoolctl import ThreadpoolController, threadpool_limits

    from recorder.detect import DtmfDetector, _one_blas_thread
    from simulator.clock import FRAME, MAX_BLOCK_FRAMES

    controller = ThreadpoolController().select(user_api="blas")

    def fresh() -> None:
        for _ in range(calls):
            with threadpool_limits(1, "blas"):
                pass

    def cached() -> None:
        for _ in range(calls):
            with controller.limit(limits=1):
                pass

    def ours() -> None:
        for _ in range(calls):
            with _one_blas_thread():
                pass

    frames = speech_audio(MAX_BLOCK_FRAMES * FRAME // 8000).reshape(-1, FRAME)
    det = DtmfDetector()
    det.scan(frames, det.initial_state())
    t_fresh, t_cached, t_ours = _timed(fresh), _timed(cached), _timed(ours)
    t_scan = _timed(lambda: [det.scan(frames, det.initial_state()) for _ in range(20)])
    # CPU time: on a shared machine the wall time of a few microseconds is mostly waiting.
    return {
        **t_ours,
        "fresh_us": t_fresh["cpu"] / calls * 1e6,
        "cached_us": t_cached["cpu"] / calls * 1e6,
        "ours_us": t_ours["cpu"] / calls * 1e6,
        "scan_ms": t_scan["cpu"] / 20 * 1e3,
    }


def scenario_no_recorder(seconds: int) -> Timing:
    """The simulator alone: a scenario of ``seconds`` of speech with a sleep and no recorder attached."""
    from simulator.runner import run_scenario
    from simulator.scenario import ScenarioBuilder

    sc = ScenarioBuilder(seed=2).speech(0, seconds * 1000).sleep(seconds * 1000).build()
    from recorder import FileRecorder

    return _timed(lambda: run_scenario(sc, FileRecorder))


def scenario_record(seconds: int) -> Timing:
    """The recorder end to end: a ``seconds`` A-law recording of speech, silence detection + barge-in, end to end
    (scenario build, run, file published in the in-memory store)."""
    from simulator.runner import run_scenario
    from simulator.scenario import ScenarioBuilder

    sc = (
        ScenarioBuilder(seed=3)
        .speech(0, (seconds + 5) * 1000)
        .record(filename="r.wav", file_format="alaw", seconds_timeout=seconds, max_bytes=0,
                milliseconds_max_silence=5000, barge_in=True)
        .build()
    )
    from recorder import FileRecorder

    return _timed(lambda: run_scenario(sc, FileRecorder))


#: The many-items scenario: a noise burst every 3 s (2 s of noise, then a 1 s pause).
BURST_PERIOD_MS, BURST_MS = 3000, 2000


def _many_items_scenario(seconds: int) -> Any:
    """A ``seconds`` call whose far end is one noise-burst item every 3 s, recorded in A-law at
    8000 Hz with the pipeline's limits (silence 5 s, barge-in): every item start is a scripted
    instant in the event log, which must not cut media delivery into 3 s blocks."""
    from simulator.scenario import ScenarioBuilder

    b = ScenarioBuilder(seed=7)
    for at in range(0, (seconds + 5) * 1000, BURST_PERIOD_MS):
        b.noise(at, BURST_MS, level_dbm0=-30)
    return b.record(
        filename="m.wav", file_format="alaw", rate=8000, seconds_timeout=seconds, max_bytes=0,
        milliseconds_max_silence=5000, barge_in=True,
    ).build()


def scenario_many_items(seconds: int) -> Timing:
    """The many-items scenario end to end (``run_scenario``: build, run, file in the store)."""
    from simulator.runner import run_scenario

    sc = _many_items_scenario(seconds)
    result: dict[str, Any] = {}

    def go() -> None:
        r = run_scenario(sc)
        result["cause"] = r.final["cause"]
        result["items"] = len(sc.audio)

    t = _timed(go)
    t.update(result)
    return t


def ref_soundfile_many_items(seconds: int) -> Timing:
    """libsndfile's A-law encode of the many-items scenario's audio into memory (the reference)."""
    import io

    import soundfile as sf

    from simulator.build import build_audio

    x = build_audio(_many_items_scenario(seconds)).render(0, seconds * 8000)
    return _timed(lambda: sf.write(io.BytesIO(), x, 8000, subtype="ALAW", format="WAV"))


def memory_24h(seconds: int) -> Timing:
    """A long recording into a directory-backed store; reports peak RSS of this process."""
    t = pipeline("alaw", 8000, seconds)
    t["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return t


def _proc_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far (Linux ``/proc``); 0 without one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def protocol_record(mode: str, seconds: int) -> Timing:
    """One ``record()`` of ``seconds`` of speech (alaw 8000, ``max_bytes=0``, 5 s max silence,
    barge-in) through ``mode``: ``inproc`` (the reference in this process), ``host`` (the
    reference behind the wire protocol in a ``callsim host`` process) or ``js`` (the JavaScript
    example). The process is started and has shaken hands before the timed region; ``cpu`` is
    this (harness) process, ``child_cpu`` the recorder process over the same region."""
    from callsim.wiring import resolve_recorder
    from simulator.channel import CallChannel
    from simulator.clock import Clock
    from simulator.store import MediaStore

    if mode == "inproc":
        factory = resolve_recorder(None)
    elif mode == "host":
        factory = resolve_recorder(None, isolate=True)
    else:
        factory = resolve_recorder(None, command=f"node {ROOT / 'examples' / 'js-recorder' / 'recorder.js'}")
    getattr(factory, "callsim_capabilities", None)  # start the process (kept for the timed call)
    clock = Clock()
    store = MediaStore(clock=lambda: clock.now)
    channel = CallChannel(clock, audio=_speech_timeline(seconds), store=store, recorder_factory=factory)
    rec = channel.FileRecorder
    result: dict[str, Any] = {}

    def go() -> None:
        result["cause"] = rec.record("bench.wav", "alaw", 8000, seconds_timeout=seconds, max_bytes=0,
                                     milliseconds_max_silence=5000, barge_in=True).name

    pid = factory.connection().pipe.proc.pid if mode != "inproc" else None  # type: ignore[attr-defined]
    c0 = _proc_cpu(pid)
    t = _timed(go)
    t["child_cpu"] = _proc_cpu(pid) - c0
    t["cause"] = result["cause"]
    t["bytes"] = len(store.read("bench.wav"))
    close = getattr(factory, "close", None)
    if close:
        close()
    return t


def baseline_rss() -> Timing:
    """Peak RSS of a process that only imported everything (what the 24 h figure starts from)."""
    import recorder.filerecorder  # noqa: F401
    import simulator.runner  # noqa: F401

    speech_audio(1)
    return {"wall": 0.0, "cpu": 0.0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


WORKLOADS: dict[str, Callable[..., Timing]] = {
    "pipeline": pipeline,
    "ref_soundfile": ref_soundfile,
    "ref_resample_poly": ref_resample_poly,
    "encoder": encoder,
    "resampler": resampler,
    "render": render,
    "dtmf": dtmf,
    "dtmf_probe": dtmf_probe,
    "blas_limit": blas_limit,
    "scenario_no_recorder": scenario_no_recorder,
    "scenario_record": scenario_record,
    "scenario_many_items": scenario_many_items,
    "ref_soundfile_many_items": ref_soundfile_many_items,
    "memory_24h": memory_24h,
    "baseline_rss": baseline_rss,
    "protocol_record": protocol_record,
}


def _arg(a: str) -> Any:
    return int(a) if a.lstrip("-").isdigit() else a


if __name__ == "__main__":
    name, *raw = sys.argv[1:]
    fn = WORKLOADS[name]
    args = [_arg(a) for a in raw]
    if os.environ.get("BENCH_WARM", "1") == "1" and args and isinstance(args[-1], int):
        # Warm caches (clip bank, codec tables, imports) with 20 s of the same workload.
        fn(*args[:-1], min(20, args[-1]))
    print(json.dumps(fn(*args)))
