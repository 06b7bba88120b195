"""Importing callsim changes nothing in the process; BLAS threads are limited only where the DTMF
detector multiplies its matrices (and restored after).

Before, ``simulator/__init__.py`` set ``OPENBLAS_NUM_THREADS=1`` on import on behalf of the
detector: every program that imported the simulator had its BLAS threading changed, and only if
numpy had not been imported first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]

IMPORT_ALL = """
import importlib, json, os, pkgutil, sys
before = dict(os.environ)
names = []
for package in ("simulator", "recorder", "conformance"):
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        names.append(info.name)
after = dict(os.environ)
changed = {k: [before.get(k), after.get(k)] for k in set(before) | set(after) if before.get(k) != after.get(k)}
print(json.dumps({"changed": changed, "modules": names}))
"""


def test_importing_simulator_recorder_and_conformance_leaves_the_environment_alone() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True, timeout=300)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"simulator.runner", "recorder.detect", "conformance.grading"} <= set(out["modules"])
    assert out["changed"] == {}


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_the_detector_limits_blas_to_one_thread_only_while_it_scans(monkeypatch: Any) -> None:
    import recorder.detect as detect

    seen: list[list[int]] = []
    inner = detect._span_codes

    def spy(xi: np.ndarray) -> np.ndarray:
        seen.append(_blas_threads())
        return inner(xi)

    monkeypatch.setattr(detect, "_span_codes", spy)
    if not _blas_threads():
        pytest.skip("numpy has no BLAS library that threadpoolctl can see")
    frames = np.zeros((50, detect.FRAME_SAMPLES), dtype=np.int16)
    det = detect.DtmfDetector()
    with threadpool_limits(2, "blas"):  # as the process would have it on 2 cores
        before = _blas_threads()
        det.scan(frames, det.initial_state())
        after = _blas_threads()
    assert before == [2] * len(before)
    assert seen and all(threads == [1] * len(before) for threads in seen)
    assert after == before
