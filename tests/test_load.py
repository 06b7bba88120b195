"""Load: many simultaneous calls on one virtual clock.

``run_load(n)`` builds ``n`` ``CallChannel``s on ONE ``simulator.Clock``, each with its own
far-end ``Timeline`` (a loud two-tone burst of a length particular to the call, then silence)
and all writing into one shared media store (in memory, or a directory on disk). Every call
``start()``s a recording at t=0 in one of the six formats; two calls in three end by SILENCE
(500 ms after their burst), the rest by SIZE (a byte limit particular to the call), so the jobs
end at many different instants. The clock then runs until every job has ended.

Every file is then checked independently: ``conformance.wavread`` validates it, ``decoders``
decode it, its sample count is exactly what SD-SILENCE / SD-SIZE give for that call, and its
content matches the far-end audio (SNR floor per codec). Wall time and peak RSS are measured;
the 1,000-call run happens in a fresh process so the RSS is that run's own.

Run by hand: ``PYTHONPATH=. python tests/test_load.py 1000 dir``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recorder import FileRecorder

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("alaw", "ulaw", "s16bit", "u8bit", "ima", "oki")
BYTES_PER_SAMPLE = {"alaw": 1, "ulaw": 1, "u8bit": 1, "s16bit": 2}
SNR_FLOOR = {"alaw": 30.0, "ulaw": 30.0, "u8bit": 25.0, "ima": 10.0, "oki": 10.0}
FRAME = 160


def plan(i: int) -> dict[str, Any]:
    """What call ``i`` does and what its file must hold (the oracle, from SD-SILENCE/SD-SIZE)."""
    burst_frames = 25 + (i * 7) % 150  # 0.5 .. 3.5 s of tone
    fmt = FORMATS[i % len(FORMATS)]
    if i % 3 == 2 and fmt in BYTES_PER_SAMPLE:
        samples = 1000 + (i * 37) % 12_000  # reached inside the burst
        samples = min(samples, burst_frames * FRAME)
        return {"fmt": fmt, "burst": burst_frames, "max_bytes": samples * BYTES_PER_SAMPLE[fmt],
                "cause": "SIZE", "samples": samples}
    # SD-SILENCE: 500 ms = 25 silent frames after the last loud frame
    return {"fmt": fmt, "burst": burst_frames, "max_bytes": 0, "cause": "SILENCE",
            "samples": (burst_frames + 25) * FRAME}


def run_load(n: int, store_kind: str = "memory", check: bool = True) -> dict[str, Any]:
    from conformance.decoders import decode_wav
    from conformance.wavread import validate_wav
    from recorder import Cause, State
    from simulator import CallChannel, Clock
    from simulator.audio import Timeline, Tone
    from simulator.store import MediaStore

    t0 = time.perf_counter()
    clock = Clock()
    tmp = tempfile.TemporaryDirectory() if store_kind == "dir" else None
    store = MediaStore(tmp.name if tmp else None, clock=lambda: clock.now)
    calls = []
    for i in range(n):
        p = plan(i)
        freqs = (440.0 + (i % 13) * 10, 1800.0 - (i % 7) * 20)
        audio = Timeline((Tone(start=0, duration=p["burst"] * FRAME, freqs=freqs, level_dbm0=-12),), seed=i)
        ch = CallChannel(clock, recorder_factory=FileRecorder, audio=audio, store=store, name=f"call{i}")
        calls.append((ch, p))
    t_built = time.perf_counter()
    for i, (ch, p) in enumerate(calls):
        ok = ch.FileRecorder.start(filename=f"calls/{i:04d}.wav", file_format=p["fmt"],
                                   max_bytes=p["max_bytes"], milliseconds_max_silence=500)
        assert ok is True, i
    recs = [ch.FileRecorder for ch, _ in calls]
    running = [n]

    def all_ended() -> bool:
        # cheap: only re-count when something may have changed
        running[0] = sum(r.state() is State.RECORDING for r in recs)
        return running[0] == 0

    clock.run_until(all_ended, what="every job to end")
    t_run = time.perf_counter()
    end_instants = set()
    if check:
        names = store.list()
        assert len(names) == n, f"{len(names)} files for {n} calls"
        assert store.open_writers() == 0
        for i, (ch, p) in enumerate(calls):
            r = ch.FileRecorder
            assert r.cause() is Cause[p["cause"]], (i, r.cause(), p)
            end_instants.add(ch.log.of_kind("job-end")[0]["t"])
            data = store.read(f"calls/{i:04d}.wav")
            assert validate_wav(data, p["fmt"], 8000) == [], i
            x = decode_wav(data)[1]
            assert len(x) == p["samples"], (i, len(x), p)
            ref = ch.render(0, len(x)).astype(np.float64)
            got = x.astype(np.float64)
            if p["fmt"] == "s16bit":
                assert np.array_equal(got, ref), i
            else:
                s = 100 if p["fmt"] in ("ima", "oki") else 0
                snr = 10 * np.log10(np.sum(ref[s:] ** 2) / max(np.sum((got[s:] - ref[s:]) ** 2), 1e-9))
                assert snr >= SNR_FLOOR[p["fmt"]], (i, snr)
    t_check = time.perf_counter()
    if tmp is not None:
        on_disk = sum(1 for _ in Path(tmp.name).rglob("*.wav"))
        assert on_disk == n
        tmp.cleanup()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "calls": n,
        "store": store_kind,
        "virtual_seconds": clock.now / 8000,
        "distinct_end_instants": len(end_instants),
        "build_s": round(t_built - t0, 3),
        "run_s": round(t_run - t_built, 3),
        "check_s": round(t_check - t_run, 3),
        "wall_s": round(t_check - t0, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "audio_seconds_recorded": round(sum(p["samples"] for _, p in calls) / 8000, 1),
    }


def test_50_calls_on_one_clock() -> None:
    """50 simultaneous calls, shared in-memory store: every file exact."""
    figures = run_load(50)
    assert figures["distinct_end_instants"] >= 30
    print(json.dumps(figures))


@pytest.mark.slow
@pytest.mark.parametrize("store_kind", ["memory", "dir"])
def test_1000_calls_on_one_clock(store_kind: str) -> None:
    """1,000 simultaneous calls on one clock (fresh process: wall time and peak RSS are its own)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "1000", store_kind],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(figures))
    assert figures["calls"] == 1000 and figures["distinct_end_instants"] >= 150
    assert figures["peak_rss_mb"] < 4000


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    kind = sys.argv[2] if len(sys.argv) > 2 else "memory"
    print(json.dumps(run_load(count, kind)))
