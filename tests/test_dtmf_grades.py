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


GRAY_HEARD = (False, False, "SD-DTMF-GRAY")
GRAY_DROPPED = (False, True, "SD-DTMF-GRAY")


@pytest.mark.parametrize("kw, want", [
    ({"twist_db": 5.5, "level_dbm0": -20.0}, GRAY_HEARD),
    ({"twist_db": 6.5, "level_dbm0": -20.0}, GRAY_DROPPED),
    ({"twist_db": -9.5, "level_dbm0": -10.0}, GRAY_HEARD),
    ({"twist_db": -10.5, "level_dbm0": -10.0}, GRAY_DROPPED),
    ({"freq_offset_pct": -2.0}, GRAY_HEARD),
    ({"high_offset_pct": 3.0}, GRAY_DROPPED),
    ({"level_dbm0": -29.0, "twist_db": -6.0}, GRAY_HEARD),  # the high tone at -35 dBm0
    ({"level_dbm0": -37.0, "twist_db": 3.0}, GRAY_DROPPED),  # the low tone at -37 dBm0
    ({"tone_ms": 33}, GRAY_HEARD),
    ({"tone_ms": 24}, GRAY_DROPPED),
])
def test_our_gray_zone_points_one_axis_away(kw: dict[str, Any], want: tuple[bool, bool, str]) -> None:
    """SD-DTMF-GRAY: a digit one axis away from a clean one, at a point clear of our detector's
    edge, is expected to do what ours does (INFO when it does not)."""
    assert _grades(ScenarioBuilder().dtmf(500, "5", **{"tone_ms": 60, **kw})) == [want]


@pytest.mark.parametrize("kw", [
    {"twist_db": 6.0, "level_dbm0": -20.0},  # at our own edge
    {"freq_offset_pct": 2.5},
    {"tone_ms": 28},
    {"twist_db": 5.5, "level_dbm0": -20.0, "freq_offset_pct": 2.0},  # two axes away
    {"tone_ms": 33, "freq_offset_pct": 1.5},  # one axis gray, one in Q.24's acceptance edge
])
def test_rest_of_the_gray_zone_is_either_way(kw: dict[str, Any]) -> None:
    world = World(ScenarioBuilder().dtmf(500, "5", **{"tone_ms": 60, **kw}).record(filename="x", barge_in=True).build())
    [d] = world.inband_digits
    assert (d.certain, d.reject, d.either) == (False, False, 0)


def test_gray_digit_in_noise_is_either_way() -> None:
    """Our gray-zone edges were measured on clean tones: under other sound the digit is left open."""
    world = World(ScenarioBuilder().noise(400, 300, -38.0).dtmf(500, "5", tone_ms=60, twist_db=5.5, level_dbm0=-20.0)
                  .record(filename="x", barge_in=True).build())
    assert world.inband_digits[0].either == 0


@pytest.mark.parametrize("gap, want", [(17, GRAY_DROPPED), (28, GRAY_HEARD)])
def test_interruptions_q24_leaves_open(gap: int, want: tuple[bool, bool, str]) -> None:
    """Ours bridges a 17 ms interruption (still the old digit) and hears a new digit after 28 ms;
    between, either way."""
    assert _grades(ScenarioBuilder().dtmf(100, "55", tone_ms=150, gap_ms=gap))[1] == want
    world = World(ScenarioBuilder().dtmf(100, "55", tone_ms=150, gap_ms=22).record(filename="x", barge_in=True).build())
    assert world.inband_digits[1].either >= 0


def test_either_way_digits_give_the_ours_engine_both_outcomes() -> None:
    """A digit left either way is heard in some of our runs and not in others: no finding
    whichever a detector does."""
    from conformance.model import predict

    sc = ScenarioBuilder().dtmf(500, "5", tone_ms=60, freq_offset_pct=2.5).record(
        filename="x", barge_in=True, milliseconds_max_silence=1000).build()
    _, runs = predict(sc)
    assert {r.jobs[0].cause for r in runs} == {"BARGEIN", "SILENCE"}


def test_a_digit_changing_into_another_with_no_pause_is_heard() -> None:
    """SD-DTMF-GRAY: ours hears the new digit; with any pause shorter than Q.24's 40 ms, or a
    tone that is not clean, either way."""
    assert _grades(ScenarioBuilder().dtmf(100, "52", tone_ms=150, gap_ms=0))[1] == GRAY_HEARD
    world = World(ScenarioBuilder().dtmf(100, "52", tone_ms=150, gap_ms=5).record(filename="x", barge_in=True).build())
    assert world.inband_digits[1].either >= 0
    world = World(ScenarioBuilder().dtmf(100, "52", tone_ms=150, gap_ms=0, freq_offset_pct=2.0)
                  .record(filename="x", barge_in=True).build())
    assert world.inband_digits[1].either >= 0


def test_the_reference_does_what_each_gray_point_expects() -> None:
    """The points SD-DTMF-GRAY grades lie clear of our detector's own edges: the reference
    draws no finding on any of them, nor on the polled formats (docs/dsp.md, "Gray zone")."""
    import conformance
    from recorder import FileRecorder

    report = conformance.check_recorder(FileRecorder, select="dtmf-gray/|formats/polled/", with_properties=False)
    assert len(report.cases) >= 80
    assert [(c.id, c.grade.value) for c in report.cases if c.grade.value != "PASS"] == []


def test_another_detectors_gray_readings_are_information_only() -> None:
    """The independent recorder's own detector splits a sounding digit at a 17 ms drop (ours
    bridges it): INFO on SD-DTMF-GRAY, never NON-STRICT or FAIL."""
    import conformance
    from tests.fair.recorder import make_factory

    report = conformance.check_recorder(make_factory(), select="dtmf-gray/interrupt-17ms-bridged-", with_properties=False)
    assert len(report.cases) == 16
    for case in report.cases:
        grades = {f.grade.value for f in case.findings} - {"PASS"}
        assert grades == {"INFO"}, (case.id, case.summary())
        assert all(f.clauses[0] == "SD-DTMF-GRAY" for f in case.findings if f.grade.value == "INFO")
