"""How the oracle grades an in-band digit (conformance.model, SD-DTMF-Q24 / SD-DTMF-TALKOFF).

The FAIL line is a clean standard digit alone; everything the talk-off decision adds only moves a
digit away from it (to ACCEPT, GRAY or REJECT), never towards it.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.model import World
from simulator.scenario import ScenarioBuilder


def _grades(b: ScenarioBuilder) -> list[tuple[bool, bool, str]]:
    world = World(b.record(filename="x", barge_in=True).build())
    return [(d.certain, d.reject, d.decision) for d in world.inband_digits]


CLEAN = (True, False, "SD-DTMF-Q24")


@pytest.mark.parametrize("kw", [{}, {"low_harmonic_db": -25.0}, {"im3_above_db": -20.0}])
def test_clean_digit_stays_the_fail_line(kw: dict[str, Any]) -> None:
    """Impurities at or below Q.23's -20 dB leave a clean digit clean; so does a -60 dBm0 floor."""
    assert _grades(ScenarioBuilder().dtmf(500, "5", tone_ms=60, **kw)) == [CLEAN]
    assert _grades(ScenarioBuilder().noise(0, 2000, -60.0).dtmf(500, "5", tone_ms=60, **kw)) == [CLEAN]


@pytest.mark.parametrize("kw", [{"low_harmonic_db": -6.0}, {"high_harmonic_db": -10.0},
                                {"im3_below_db": -8.0}, {"im3_above_db": -10.0}])
def test_strong_impurities_are_talkoff_material(kw: dict[str, Any]) -> None:
    assert _grades(ScenarioBuilder().dtmf(500, "5", tone_ms=100, **kw)) == [(False, True, "SD-DTMF-TALKOFF")]


def test_weaker_impurities_are_gray() -> None:
    assert _grades(ScenarioBuilder().dtmf(500, "5", tone_ms=100, im3_below_db=-15.0)) == [
        (False, False, "SD-DTMF-TALKOFF")]


@pytest.mark.parametrize("build, want", [
    # a third tone as loud as each digit tone: the pair holds 2/3 of the power
    (lambda b: b.tone(400, 300, [400.0], -10.0), (False, True, "SD-DTMF-TALKOFF")),
    (lambda b: b.noise(400, 300, -7.0), (False, True, "SD-DTMF-TALKOFF")),
    # noise 15 dB below the tones' power: only ACCEPT (missing it is DSP quality)
    (lambda b: b.noise(400, 300, -22.0), (False, False, "SD-DTMF-TALKOFF")),
    (lambda b: b.noise(400, 300, -17.0), (False, False, "SD-DTMF-TALKOFF")),  # GRAY
    # sound that only partly covers the digit, or speech: never REJECT
    (lambda b: b.tone(540, 300, [400.0], -3.0), (False, False, "SD-DTMF-TALKOFF")),
    (lambda b: b.speech(0, 2000), (False, False, "SD-DTMF-TALKOFF")),
])
def test_other_sound_under_a_digit(build: Any, want: tuple[bool, bool, str]) -> None:
    assert _grades(build(ScenarioBuilder()).dtmf(500, "5", tone_ms=100)) == [want]


def test_resumed_tone_after_a_bridged_interruption_is_no_new_digit() -> None:
    """Q.24: a drop of 10 ms or less is bridged (the resumed tone must not count again); after a
    40 ms pause the tone is a new digit, clean when both tones are."""
    bridged = _grades(ScenarioBuilder().dtmf(100, "55", tone_ms=150, gap_ms=10))
    assert bridged[1] == (False, True, "SD-DTMF-Q24")
    assert _grades(ScenarioBuilder().dtmf(100, "55", tone_ms=150, gap_ms=40)) == [CLEAN, CLEAN]
    # a different digit after a short gap is not a continuation
    assert _grades(ScenarioBuilder().dtmf(100, "57", tone_ms=150, gap_ms=10))[1][1] is False
