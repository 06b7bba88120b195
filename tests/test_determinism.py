"""Determinism across processes.

``generate(i)`` builds scenario ``i`` from ``random.Random(i)`` alone (no hypothesis, no clock,
no global state): far-end audio from tones, noise, speech clips, silence and in-band and
out-of-band DTMF; hangups; store faults; and an action script of ``record``/``start``/``sleep``/
``stop``/``wait_until_finished`` calls over every format, rate and limit, some with a cipher.
``main`` runs a batch of them with ``simulator.runner.run_scenario`` and prints, per scenario,
the sha256 of the event log (JSON), of the step results and of every published file.

The test runs that batch in two separate Python processes with different ``PYTHONHASHSEED``
(in parallel) and requires byte-identical output. The default run covers 100 scenarios; the slow
test covers 1,000.

Run by hand: ``PYTHONPATH=. python tests/test_determinism.py 0 100``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("alaw", "ulaw", "oki", "ima", "s16bit", "u8bit")
RATES = (8000, 6000, 11000, 11025)
SAFE_FREQS = (300.0, 440.0, 520.0, 600.0, 1000.0, 1800.0, 2200.0, 3000.0)
NAMES = ("rec.wav", "recfile", "calls/a.wav", "x@y-z_1.wav")


def generate(i: int) -> Any:
    """Scenario ``i``: a pure function of ``i``."""
    from simulator.scenario import ScenarioBuilder

    rng = random.Random(i)
    b = ScenarioBuilder(seed=rng.randrange(2**31))
    t = 0
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["tone", "noise", "speech", "silence", "dtmf", "dtmf_oob"])
        dur = rng.randrange(100, 3000, 20)
        if kind == "tone":
            freqs = rng.sample(SAFE_FREQS, rng.randint(1, 2))
            b.tone(t, dur, freqs, level_dbm0=rng.uniform(-35, -6))
        elif kind == "noise":
            b.noise(t, dur, level_dbm0=rng.uniform(-60, -10), color=rng.choice(["white", "pink"]))
        elif kind == "speech":
            b.speech(t, dur, level_dbm0=rng.uniform(-30, -12))
        elif kind == "silence":
            b.silence(t, dur)
        else:
            digits = "".join(rng.choice("0123456789*#") for _ in range(rng.randint(1, 3)))
            b.dtmf(t, digits, tone_ms=rng.randrange(60, 150), gap_ms=rng.randrange(60, 150),
                   out_of_band=kind == "dtmf_oob")
            dur = len(digits) * 300
        t += dur + rng.choice([0, 0, 200, 1500])
    if rng.random() < 0.4:
        b.hangup(rng.randrange(0, 9000))
    fault = rng.random()
    if fault < 0.1:
        b.store(fail_write_n=rng.randint(1, 4))
    elif fault < 0.2:
        b.store(capacity_bytes=rng.randrange(0, 60_000))
    for _ in range(rng.randint(1, 4)):
        args: dict[str, Any] = {"filename": rng.choice(NAMES), "file_format": rng.choice(FORMATS),
                                "rate": rng.choice(RATES)}
        if rng.random() < 0.5:
            args["milliseconds_max_silence"] = rng.choice([0, 200, 1000, 3000])
        if rng.random() < 0.3:
            args["milliseconds_initial_silence"] = rng.choice([0, 500, 2000])
        if rng.random() < 0.3:
            args["max_bytes"] = rng.choice([0, 1000, 4096, 20_000])
        if rng.random() < 0.4:
            args["barge_in"] = True
        if rng.random() < 0.25:
            args["cipher"] = {"key": f"{rng.getrandbits(256):064x}", "iv": f"{rng.getrandbits(128):032x}"}
        how = rng.choice(["record", "start_stop", "start_wait"])
        if how == "record":
            b.record(seconds_timeout=rng.choice([0.5, 1, 2.5, 4]), **args)
        else:
            b.start(**args)
            b.sleep(rng.randrange(0, 3000, 10))
            if how == "start_stop":
                b.stop()
            else:
                b.wait_until_finished(seconds_timeout=rng.choice([0, 1, 3]))
                b.stop()
        if rng.random() < 0.3:
            b.action("cause")
            b.action("audio_detected_in_recording")
    if rng.random() < 0.1:
        b.record(filename="../bad", seconds_timeout=1)  # an ArgumentError in the log too
    return b.build(base_dir=str(ROOT))


def digest(i: int) -> str:
    """One output line for scenario ``i``: hashes of its log, steps and files."""
    from recorder import FileRecorder
    from simulator.runner import run_scenario

    result = run_scenario(generate(i), FileRecorder)
    log = json.dumps(result.log, sort_keys=True, separators=(",", ":")).encode()
    steps = json.dumps(result.to_json(), sort_keys=True, separators=(",", ":")).encode()
    files = " ".join(f"{n}={hashlib.sha256(d).hexdigest()[:32]}" for n, d in sorted(result.contents.items()))
    return (f"{i} log={hashlib.sha256(log).hexdigest()[:32]} steps={hashlib.sha256(steps).hexdigest()[:32]} "
            f"cause={result.final['cause']} {files}")


def main(argv: list[str]) -> int:
    start, count = int(argv[0]), int(argv[1])
    for i in range(start, start + count):
        print(digest(i), flush=True)
    return 0


def _run_batches(start: int, count: int) -> tuple[str, str]:
    procs = []
    for hashseed in ("1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hashseed, PYTHONPATH=str(ROOT))
        procs.append(subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(start), str(count)],
            cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, err[-3000:]
        outs.append(out)
    return outs[0], outs[1]


def _check(start: int, count: int) -> None:
    a, b = _run_batches(start, count)
    lines_a, lines_b = a.splitlines(), b.splitlines()
    assert len(lines_a) == count and len(lines_b) == count
    diff = [(x, y) for x, y in zip(lines_a, lines_b, strict=True) if x != y]
    assert not diff, f"{len(diff)} scenarios differ between processes, first: {diff[0]}"
    # the batch is varied enough to mean something: several causes and many distinct files
    causes = Counter(line.split(" cause=")[1].split()[0] for line in lines_a)
    assert len(causes) >= 4, causes
    assert sum(" " in line.split(" cause=")[1] for line in lines_a) >= count // 2


def test_generation_is_a_pure_function_of_the_index() -> None:
    """The generator itself is deterministic (same scenario TOML twice)."""
    assert generate(7).to_toml() == generate(7).to_toml()
    assert generate(7).to_toml() != generate(8).to_toml()


def test_100_scenarios_identical_across_processes() -> None:
    """100 generated scenarios, two processes, PYTHONHASHSEED 1 vs 4242: identical files and logs."""
    _check(0, 100)


@pytest.mark.slow
def test_1000_scenarios_identical_across_processes() -> None:
    """1,000 generated scenarios (slow)."""
    _check(100, 1000)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
