"""Hostile inputs, measured: ``python bench/hostile.py`` (about 2 minutes).

Runs ``callsim`` in a fresh subprocess on every hand-written hostile input of
``tests/test_hostile.py`` (bad scenario values, bad audio files) and on the expensive legal
ones (a 300 MB sparse WAV of which 1 s is used, a 3-hour call run and plotted, a 7-day call
plotted), and prints a Markdown table: exit status, wall time and peak RSS (``os.wait4``) of
each, and whether anything appeared outside the run's own folder. The figures go into
docs/reliability.md by hand. Never imported by the tests; timings never go into tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOML = ".toml"
sys.path.insert(0, str(ROOT))

from tests.test_hostile import BAD_FILES, BAD_VALUES, _make_bad_file, wav_header  # noqa: E402

LONG_3H = """\
seed = 7
name = "three-hour call"
[call]
hangup_ms = 10800000
[[audio]]
at_ms = 0
kind = "speech"
duration_ms = 10800000
level_dbm0 = -20
[[audio]]
at_ms = 0
kind = "noise"
duration_ms = 10800000
level_dbm0 = -60
[[actions]]
call = "record"
args = { filename = "m.wav", seconds_timeout = 20000, milliseconds_max_silence = 0, max_bytes = 400000000 }
"""
WEEK = """\
seed = 1
[[audio]]
at_ms = 0
kind = "noise"
duration_ms = 604800000
level_dbm0 = -30
[[actions]]
call = "sleep"
ms = 604800000
"""
SPARSE = """\
[[audio]]
at_ms = 0
kind = "file"
path = "big.wav"
{extra}
[[actions]]
call = "record"
args = {{ filename = "m.wav", seconds_timeout = 1 }}
"""


def measure(argv: list[str], cwd: Path) -> tuple[int, float, float, str]:
    """(exit status, wall s, peak RSS MB, last stderr line) of ``python -m callsim *argv``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "callsim", *argv], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = err.strip().splitlines()
    return proc.returncode, wall, usage.ru_maxrss / 1024, lines[-1] if lines else ""


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        work = base / "work"
        work.mkdir()
        import numpy as np
        import soundfile as sf

        sf.write(work / "tone.wav", 0.1 * np.sin(np.arange(800) * 0.3), 8000, subtype="PCM_16")
        cases: list[tuple[str, list[str]]] = []
        for i, (situation, (text, _key, _words)) in enumerate(BAD_VALUES.items()):
            (work / (f"v{i}" + TOML)).write_text(text)
            cases.append((f"value: {situation}", ["run", f"v{i}" + TOML]))
        for i, kind in enumerate(BAD_FILES):
            name = _make_bad_file(kind, work)
            (work / (f"f{i}" + TOML)).write_text(f'[[audio]]\nat_ms = 0\nkind = "file"\npath = "{name}"\n')
            cases.append((f"file: {kind}", ["run", f"f{i}" + TOML]))
        size = 300 * 1024 * 1024
        with open(work / "big.wav", "wb") as f:
            f.write(wav_header(8000, 1, 16, size))
            f.truncate(44 + size)
        (work / ("sparse1" + TOML)).write_text(SPARSE.format(extra="duration_ms = 1000"))
        (work / ("sparse" + TOML)).write_text(SPARSE.format(extra=""))
        (work / ("long3h" + TOML)).write_text(LONG_3H)
        (work / ("week" + TOML)).write_text(WEEK)
        cases += [
            ("300 MB sparse WAV, 1 s used", ["run", "sparse1" + TOML]),
            ("300 MB sparse WAV (5.5 h long), 1 s recorded", ["run", "sparse" + TOML]),
            ("3-hour call: run", ["run", "long3h" + TOML]),
            ("3-hour call: plot", ["plot", "long3h" + TOML, "-o", "long3h.png"]),
            ("7-day call: plot", ["plot", "week" + TOML, "-o", "week.png"]),
        ]
        before = sorted(p.name for p in base.iterdir())
        for label, argv in cases:
            code, wall, rss, last = measure(argv, work)
            rows.append((label, code, wall, rss, last))
            print(f"{label}: exit {code}, {wall:.2f} s, {rss:.0f} MB  {last[:100]}", file=sys.stderr)
        outside = sorted(p.name for p in base.iterdir()) != before
    print("| input | exit | wall s | peak RSS MB |")
    print("| --- | --- | --- | --- |")
    for label, code, wall, rss, _last in rows:
        print(f"| {label} | {code} | {wall:.2f} | {rss:.0f} |")
    print(f"\n{len(rows)} inputs; anything written outside the work folder: {'YES' if outside else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
