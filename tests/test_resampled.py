"""The suite's sample-level check of resampled files (``conformance.resampled``): a wrapped sample
is a FAIL, valid resamplers (scipy with another design, sox) pass the in-band bound with margin,
a filter too short for the band is reported."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import firwin, resample_poly

import recorder.resample
from conformance.cases import CATALOGUE
from conformance.grades import Grade
from conformance.grading import grade_scenario
from conformance.model import World
from conformance.resampled import (
    INBAND_DB,
    gross_errors,
    heard_lengths,
    inband_worst,
    ratio,
    references,
)
from recorder import FileRecorder

RATES = (6000, 11000, 11025)
#: the margin a valid resampler keeps inside the in-band bound (measured: 6.6 dB for the worst, sox -v)
MARGIN_DB = 6.0


def _case(rate: int) -> Any:
    return next(c for c in CATALOGUE if c.id == f"formats/s16bit/{rate}")


def _heard(rate: int) -> tuple[np.ndarray, Any]:
    """The 8000 Hz audio the reference recorder hears in ``formats/s16bit/<rate>`` (the job runs
    from tick 0 to 7100 ms) and the call's renderer."""
    world = World(_case(rate).scenario)
    return world.render(0, 7100 * 8), world.render


def _int16(y: np.ndarray) -> np.ndarray:
    return np.clip(np.round(y), -32768, 32767)


def _poly(x: np.ndarray, rate: int, half: int, beta: float) -> np.ndarray:
    up, down = ratio(rate)
    m = max(up, down)
    h = firwin(2 * half * m + 1, 1.0 / m, window=("kaiser", beta))
    return _int16(resample_poly(x.astype(np.float64), up, down, window=h))


def test_heard_lengths_hold_the_true_one() -> None:
    for rate in RATES:
        up, down = ratio(rate)
        for n8 in (0, 1, 159, 160, 56_800, 56_801, 12_345):
            n = -(-n8 * up // down)
            assert n8 in heard_lengths(n, rate), (rate, n8)


def test_a_wrapped_sample_is_counted() -> None:
    """+32768 cast to 16 bits is -32768: the one sample is a full scale and more from the audio."""
    x, render = _heard(6000)
    d = _poly(x, 6000, 10, 5.0)
    refs = references(render, 0, d.size, 6000)
    assert gross_errors(d, refs).count == 0
    k = int(np.argmax(d))
    assert d[k] == 32767
    d[k] = -32768
    g = gross_errors(d, refs)
    assert g.count == 1 and g.first is not None and g.first[0] == k


@pytest.mark.parametrize("rate", RATES)
def test_another_scipy_design_passes_with_margin(rate: int) -> None:
    x, render = _heard(rate)
    d = _poly(x, rate, 20, 8.6)  # twice the default length, a steeper window
    refs = references(render, 0, d.size, rate)
    assert gross_errors(d, refs).count == 0
    band = inband_worst(d, refs, rate)
    assert band.short == 0 and band.worst_db >= INBAND_DB + MARGIN_DB, band


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")
@pytest.mark.parametrize("rate", RATES)
def test_sox_passes_with_margin(rate: int, tmp_path: Path) -> None:
    """sox's own rate effect (its default quality, with its dither) against the reference."""
    x, render = _heard(rate)
    sf.write(tmp_path / "in.wav", x, 8000, subtype="PCM_16")
    subprocess.run(["sox", str(tmp_path / "in.wav"), "-r", str(rate), str(tmp_path / "out.wav")], check=True)
    d = sf.read(tmp_path / "out.wav", dtype="int16")[0].astype(np.float64)
    refs = references(render, 0, d.size, rate)
    assert gross_errors(d, refs).count == 0
    band = inband_worst(d, refs, rate)
    assert band.short == 0 and band.worst_db >= INBAND_DB + MARGIN_DB, band


@pytest.mark.parametrize("rate", RATES)
def test_a_filter_too_short_is_reported(rate: int) -> None:
    """Half the default length (the mutant ``firwin(2 ^ half_len + 1, ...)``): the band edge
    leaks, 7 dB or more past the bound in some loud segment."""
    x, render = _heard(rate)
    d = _poly(x, rate, 5, 5.0)
    refs = references(render, 0, d.size, rate)
    assert gross_errors(d, refs).count == 0
    band = inband_worst(d, refs, rate)
    assert band.short > 0 and band.worst_db < INBAND_DB - 5.0, band


class _WrapOnce:
    """numpy as ``recorder.resample`` sees it, with a clip that lets one loud output through at
    +32768: cast to 16 bits it wraps to -32768 (the click of a clip guard that tests ``> 32768``)."""

    def __init__(self) -> None:
        self.done = False

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    def clip(self, a: Any, lo: Any, hi: Any, out: Any = None) -> Any:
        r = np.clip(a, lo, hi, out=out)
        if not self.done and (r >= hi).any():
            r[int(np.argmax(r))] = 32768.0
            self.done = True
        return r


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_recorder_that_wraps_is_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """One wrapped sample in 42 600: the whole-file SNR does not see it, the sample check does."""
    monkeypatch.setattr(recorder.resample, "np", _WrapOnce())
    findings, _ = grade_scenario(_case(6000).scenario, FileRecorder)
    fails = [f for f in findings if f.grade is Grade.FAIL]
    assert len(fails) == 1 and "full scale" in fails[0].message, [f.message for f in findings]
    assert "1 of 42600 samples" in fails[0].message
    assert fails[0].clauses[0] == "SPEC-WAV"


def test_the_reference_gets_no_finding() -> None:
    findings, _ = grade_scenario(_case(11025).scenario, FileRecorder)
    assert all(f.grade is Grade.PASS for f in findings), [f.message for f in findings]
