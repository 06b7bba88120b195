"""Mutants triaged *equivalent* in docs/conformance.md ("Mutation testing"), shown rather than argued.

Each test pins the fact that makes a surviving mutant equivalent, so the triage stays true as the
code changes.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from recorder.filerecorder import FRAME, _Job
from recorder.resample import _ratio


@pytest.mark.parametrize("rate", [8000, 6000, 11000, 11025])
def test_size_frame_never_steps_back(rate: int) -> None:
    """``_Job._frames_for_samples`` is the smallest frame count whose output reaches the limit,
    and its second loop (stepping back) never runs: the first estimate is at or below the answer
    and the first loop stops at it. So the mutants of that loop's condition
    (``filerecorder.py:216``: ``&`` for ``*``, the unary minus deleted) change nothing."""
    up, down = _ratio(rate)
    job = SimpleNamespace(resampler=SimpleNamespace(up=up, down=down))
    limits = list(range(0, 5000)) + [2**31 - 1 - k for k in range(0, 5000, 7)] + [10**6 + k for k in range(0, 5000, 3)]
    for limit in limits:
        want = 0 if limit <= 0 else ((limit - 1) * down) // (FRAME * up) + 1  # closed form
        f = (limit * down) // (FRAME * up)  # the first loop alone
        while -(-(f * FRAME * up) // down) < limit:
            f += 1
        assert _Job._frames_for_samples(job, limit) == f == want, limit
        # nor would the mutated conditions step back: ``&`` for ``*`` (first sample) and the
        # unary minus deleted (fresh sample)
        assert not (f > 0 and -(-((f - 1) & FRAME * up) // down) >= limit), limit
        assert not (f > 0 and -(((f - 1) * FRAME * up) // down) >= limit), limit


def test_ended_jobs_callbacks_are_inert() -> None:
    """A job's call-state and DTMF callbacks and its timer, left subscribed after the job ends
    (the mutant ``filerecorder.py:454``, ``for undo in []``), change nothing: each checks
    ``job.ended`` first. Shown on a recorder running five jobs with barge-in and timers, digits
    and a hold between and during them, and a hangup."""
    from recorder import FileRecorder
    from recorder.filerecorder import _Job as Job
    from simulator.runner import run_scenario
    from simulator.scenario import ScenarioBuilder

    class KeepsSubscriptions(FileRecorder):
        def _detach(self, job: Job) -> None:
            job.ended = True
            self._channel.remove_media_sink(job)
            self._unsubscribe = []

    s = (ScenarioBuilder(seed=3).speech(0, 9000, level_dbm0=-20).dtmf(1500, "1").dtmf(3200, "2").dtmf(5200, "3")
         .change(6000, "ON_HOLD").change(6400, "ANSWERED").hangup(8000)
         .record(filename="a.wav", barge_in=True, seconds_timeout=2, max_bytes=8000)
         .record(filename="b.wav", barge_in=True, seconds_timeout=1)
         .record(filename="c.wav", barge_in=True, seconds_timeout=3)
         .start(filename="d.wav", barge_in=True).wait_until_finished()
         .record(filename="e.wav", seconds_timeout=5)  # through the hold, ended by the hangup
         .build())
    ours, mutant = run_scenario(s, FileRecorder), run_scenario(s, KeepsSubscriptions)
    assert [st.returned for st in ours.steps] == ["SIZE", "BARGEIN", "BARGEIN", True, "BARGEIN", "HANGUP"]
    assert [(st.returned, st.raised) for st in mutant.steps] == [(st.returned, st.raised) for st in ours.steps]
    assert mutant.contents == ours.contents and mutant.final == ours.final


def test_dtmf_pre_gate_never_decides_a_q24_edge() -> None:
    """The detector's window pre-gate (``_GATE_ENERGY``) cannot move a digit across an edge the
    suite grades (docs/dsp.md, "Talk-off"): the weakest pair Q.24 accepts (-25 dBm0 with 8 dB of
    twist, the weaker tone at -33) has window energy above the gate raised as the mutant
    ``MIN_TONE_DBM0 / 11.0`` raises it, and what Q.24 rejects on level (-55 dBm0) is rejected by
    the per-tone bin test (``_MIN_TONE_BIN``, -36 dBm0) whatever the gate (the mutant
    ``10.0 * (...)`` removes it). Only tones in Q.24's gray zone (below -32.7 dBm0 in total)
    could tell the gates apart."""
    from recorder import detect

    weakest = detect.WIN * detect.DBM0_RMS**2 * (10 ** (-25 / 10) + 10 ** (-33 / 10))
    mutant_gate = 0.5 * 2.0 * detect.WIN * detect.DBM0_RMS**2 * 10.0 ** (detect.MIN_TONE_DBM0 / 11.0)
    assert weakest > mutant_gate > detect._GATE_ENERGY
    # a -55 dBm0 tone's bin power: P * BIN_PER_POWER with P its mean square
    rejected = detect.DBM0_RMS**2 * 10 ** (-55 / 10) * detect._BIN_PER_POWER
    assert rejected < detect._MIN_TONE_BIN
    assert 10 * math.log10(weakest / mutant_gate) > 0.0
