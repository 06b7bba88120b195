"""Turn a scenario's ``[[audio]]`` items into the far-end ``Timeline`` of ``simulator.audio``.

Millisecond values from the file are converted to ticks once, here (8 ticks per ms).
"""

from __future__ import annotations

from typing import Any

from .audio import Dtmf, Noise, Segment, Silence, Speech, Timeline, Tone, WavFile
from .clock import ms_to_ticks
from .scenario import DTMF_IMPURITY_KEYS, AudioSpec, Scenario

__all__ = ["build_audio", "segment_of"]


def segment_of(spec: AudioSpec) -> Segment:
    """The audio segment an ``[[audio]]`` item describes."""
    p = dict(spec.params)
    start = ms_to_ticks(spec.at_ms)
    kind = spec.kind
    if kind == "silence":
        return Silence(start=start, duration=ms_to_ticks(p["duration_ms"]))
    if kind == "noise":
        return Noise(
            start=start, duration=ms_to_ticks(p["duration_ms"]), level_dbm0=float(p["level_dbm0"]),
            color=p.get("color", "white"),
        )
    if kind == "tone":
        return Tone(
            start=start, duration=ms_to_ticks(p["duration_ms"]), freqs=tuple(float(f) for f in p["freqs"]),
            level_dbm0=float(p["level_dbm0"]), phases_deg=tuple(float(d) for d in p.get("phases_deg", ())),
        )
    if kind == "dtmf":
        kwargs: dict[str, Any] = {k: p[k] for k in ("tone_ms", "gap_ms", "level_dbm0", "twist_db", "freq_offset_pct",
                                     "low_offset_pct", "high_offset_pct", "out_of_band", *DTMF_IMPURITY_KEYS) if k in p}
        return Dtmf(start=start, digits=p["digits"], **kwargs)
    if kind == "speech":
        kwargs = {"clips": tuple(p["clips"])} if "clips" in p else {}  # type: ignore[assignment]
        return Speech(start=start, duration=ms_to_ticks(p["duration_ms"]),
                      level_dbm0=float(p.get("level_dbm0", -20.0)), **kwargs)
    if kind == "file":
        dur = p.get("duration_ms")
        return WavFile(start=start, path=p["path"], duration=None if dur is None else ms_to_ticks(dur),
                       gain_db=float(p.get("level_db", 0.0)))
    raise ValueError(f"unknown audio kind {kind!r}")


def build_audio(scenario: Scenario) -> Timeline:
    """The far-end audio timeline of ``scenario`` (seeded by its seed)."""
    return Timeline(tuple(segment_of(a) for a in scenario.audio), seed=scenario.seed)
