"""Timeline pictures of a scenario run: ``callsim plot SCENARIO.toml -o out.png``.

This module owns the picture and nothing else. It reads only the scenario (the far-end audio
and its ground-truth DTMF schedule) and the run's event log, never the recorder, so a plot of a
third-party recorder shows what that recorder *did*, not what it says it did. Panels over
virtual time in seconds, top to bottom:

* API calls and returns: one row per action, a bar from the call to its return, labelled
  ``record(filename='m.wav', ...) -> BARGEIN`` (or ``raised Hangup``);
* the recorder: RECORDING spans and each job's cause at its end (from the reference recorder's
  ``job-start``/``job-end`` log entries; for other recorders inferred from the API returns), and
  the instants files were published to the store;
* call state: shaded spans named after the state;
* the far-end waveform, with DTMF digits at their onsets (in-band: a shaded tone span; out-of-band:
  a dashed line, the event carries no audio);
* frame level: energy of each 20 ms frame in dBm0 against the -45 dBm0 threshold, audio frames
  shaded (computed here from the waveform with the SD-SILENCE rule, independently of the
  recorder's own detector);
* a zoom on the last job's end (frame boundaries drawn), where a barge-in, a size limit or a
  hangup happens within a frame or two.

matplotlib is an optional dependency (the ``plot`` extra); it is imported lazily and only its
object-oriented API is used (``Figure``, no ``pyplot``), so plotting never changes global state
and works in worker threads and processes.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from callsim.contract.units import DBM0_RMS, FRAME, SILENCE_THRESHOLD_DBM0, TICKS_PER_SECOND
from simulator.build import build_audio
from simulator.scenario import Scenario

__all__ = ["plot_scenario", "plot_run", "frame_levels", "recorder_spans", "RecorderSpan", "SILENCE_DBM0"]

#: The SD-SILENCE threshold (the contract's one definition), drawn on the frame-level panel.
SILENCE_DBM0 = SILENCE_THRESHOLD_DBM0
_FLOOR_DBM0 = -80.0  # digital silence is drawn here rather than at minus infinity
_MAX_POINTS = 4000  # waveform envelope buckets: enough for a 14-inch figure at 110 dpi
#: Calls up to this many frames (400 s) are drawn frame by frame; longer ones are summarised
#: in ``_MAX_POINTS`` buckets (``_summarise``), so memory and time stay bounded at any length.
_FRAME_BY_FRAME = 20_000
#: Up to this length (6 hours) every sample is rendered; beyond it each bucket is represented
#: by ``_SAMPLED_FRAMES`` frames at its middle (the title says "sampled").
_EXACT_TICKS = 6 * 3600 * TICKS_PER_SECOND
_SAMPLED_FRAMES = 16
_MAX_DTMF_MARKS = 200  # digits drawn (each is an artist; a long DTMF item would stall drawing)
_RENDER_TICKS = 1 << 20  # samples rendered at once on the summarised path

_STATE_COLOURS = {
    "ANSWERED": "#cfe8cf", "ON_HOLD": "#f6d8a8", "HOLDING": "#f6d8a8", "TRANSFERRING": "#e3d0f0",
    "IDLE": "#e0e0e0", "WAITING": "#e0e0e0",
}
_CAUSE_COLOURS = {
    "SILENCE": "#1f77b4", "BARGEIN": "#9467bd", "SIZE": "#8c564b", "TIMEOUT": "#7f7f7f",
    "HANGUP": "#d62728", "ABORTED": "#ff7f0e", "ERROR": "#000000", "NONE": "#bbbbbb",
}
_INBAND, _OOB = "#9467bd", "#ff7f0e"


@dataclass(frozen=True)
class RecorderSpan:
    """One record job as seen from outside: RECORDING from ``start`` to ``end`` (seconds)."""

    start: float
    end: float | None  # None: still recording when the script ended
    first_frame: float | None
    cause: str | None
    file: str | None
    inferred: bool  # True when read from API returns (no job-start/job-end in the log)
    recorded_end: float | None = None  # end of the last whole frame in the file, when logged


# -- data extraction (pure, tested without matplotlib) -----------------------------------------
def frame_levels(x: npt.NDArray[np.int16]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Per whole 20 ms frame of ``x`` (starting at tick 0): level in dBm0 and whether it is audio.

    Audio means energy sum(x**2) at or above ``160 * DBM0_RMS**2 * 10**(-45/10)`` (SD-SILENCE);
    a trailing partial frame is ignored, as the recorder never sees it.
    """
    n = len(x) // FRAME
    frames = x[: n * FRAME].astype(np.int64).reshape(n, FRAME)
    energy = np.einsum("ij,ij->i", frames, frames)  # int64: exact, as the rule is stated
    threshold = FRAME * DBM0_RMS**2 * 10 ** (SILENCE_DBM0 / 10)
    with np.errstate(divide="ignore"):
        level = 10 * np.log10(energy / FRAME / DBM0_RMS**2)
    return np.maximum(level, _FLOOR_DBM0), energy >= threshold


def recorder_spans(log: Sequence[dict[str, Any]], final: dict[str, Any] | None = None) -> list[RecorderSpan]:
    """The record jobs of a run, from ``job-start``/``job-end`` entries, else from API returns."""
    spans: list[RecorderSpan] = []
    starts = [e for e in log if e["kind"] in ("job-start", "job-end")]
    if starts:
        open_: dict[str, Any] | None = None
        for e in starts:
            if e["kind"] == "job-start":
                open_ = e
            elif open_ is not None:
                ff = open_.get("first_tick")
                frames = e.get("frames")
                rec_end = None if ff is None or frames is None else (ff + frames * FRAME) / TICKS_PER_SECOND
                spans.append(RecorderSpan(open_["t"] / TICKS_PER_SECOND, e["t"] / TICKS_PER_SECOND,
                                          None if ff is None else ff / TICKS_PER_SECOND,
                                          e.get("cause"), open_.get("file"), False, rec_end))
                open_ = None
            else:  # a job that failed before it started (store refused the file)
                spans.append(RecorderSpan(e["t"] / TICKS_PER_SECOND, e["t"] / TICKS_PER_SECOND, None,
                                          e.get("cause"), None, False))
        if open_ is not None:
            ff = open_.get("first_tick")
            spans.append(RecorderSpan(open_["t"] / TICKS_PER_SECOND, None,
                                      None if ff is None else ff / TICKS_PER_SECOND, None, open_.get("file"), False))
        return spans
    # Another recorder logs nothing of its own: read the jobs from what its API returned.
    calls: dict[int, dict[str, Any]] = {}
    pending: dict[str, Any] | None = None
    current: tuple[float, str | None] | None = None
    for i, e in enumerate(log):
        if e["kind"] == "api-call":
            pending = e
            calls[i] = e
        elif e["kind"] == "api-return" and pending is not None:
            call, t0, t1 = e["call"], pending["t"] / TICKS_PER_SECOND, e["t"] / TICKS_PER_SECOND
            fname = pending.get("args", {}).get("filename")
            ret, raised = e.get("returned"), e.get("raised")
            if call == "record" and not raised:
                spans.append(RecorderSpan(t0, t1, None, ret, fname, True))
            elif call == "start" and not raised and ret is True:
                current = (t0, fname)
            elif current is not None and not raised and (
                (call == "stop") or (call == "wait_until_finished" and ret not in ("TIMEOUT", None))
            ):
                cause = "ABORTED" if call == "stop" else ret
                spans.append(RecorderSpan(current[0], t1, None, cause, current[1], True))
                current = None
            pending = None
    if current is not None:
        done = final is not None and final.get("state") not in (None, "RECORDING")
        end = final.get("end_ms", 0) / 1000 if done and final else None
        spans.append(RecorderSpan(current[0], end, None, final.get("cause") if done and final else None, current[1], True))
    return spans


def _api_steps(log: Sequence[dict[str, Any]]) -> list[tuple[float, float, str, str, bool]]:
    """(call s, return s, call label, outcome label, is_sleep) per action, in order."""
    out: list[tuple[float, float, str, str, bool]] = []
    pending: dict[str, Any] | None = None
    for e in log:
        if e["kind"] == "api-call":
            pending = e
        elif e["kind"] == "api-return" and pending is not None:
            call = pending["call"]
            args = pending.get("args", {})
            if call == "sleep":
                label, outcome = f"sleep {args.get('ms')} ms", ""
            else:
                shown = ", ".join(f"{k}={_short(v)}" for k, v in args.items())
                label = f"{call}({shown})"
                if len(label) > 100:
                    label = label[:96] + "...)"
                outcome = f"raised {e['raised']}" if e.get("raised") else f"-> {_short(e.get('returned'))}"
            out.append((pending["t"] / TICKS_PER_SECOND, e["t"] / TICKS_PER_SECOND, label, outcome, call == "sleep"))
            pending = None
    return out


def _short(v: Any) -> str:
    if isinstance(v, str):
        return v if v.isupper() or v == "<cipher>" else repr(v)
    return repr(v)


def _state_spans(scenario: Scenario, log: Sequence[dict[str, Any]], end: float) -> list[tuple[float, float, str]]:
    spans: list[tuple[float, float, str]] = []
    t, state = 0.0, scenario.call.state
    for e in log:
        if e["kind"] == "call-state":
            now = e["t"] / TICKS_PER_SECOND
            if now > t:
                spans.append((t, now, state))
            t, state = now, e["new"]
    spans.append((t, max(end, t), state))
    return spans


def _envelope(x: npt.NDArray[np.int16], t0: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Times, minima and maxima per bucket: a faithful waveform at any length in few points."""
    y = x.astype(np.float64) / 32768.0
    bucket = max(1, -(-len(y) // _MAX_POINTS))
    n = -(-len(y) // bucket)
    padded = np.concatenate([y, np.full(n * bucket - len(y), np.nan)]).reshape(n, bucket)
    lo, hi = np.nanmin(padded, axis=1), np.nanmax(padded, axis=1)
    t = t0 + (np.arange(n) * bucket) / TICKS_PER_SECOND
    return t, lo, hi


def _runs(flags: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) index runs where ``flags`` is True."""
    d = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


@dataclass(frozen=True)
class _Summary:
    """What the waveform and frame-level panels draw: the envelope (times, minima, maxima, in
    full scale), the level steps (edges in seconds, level per step in dBm0, audio flag per step)
    and whether buckets were sampled rather than rendered whole."""

    t: npt.NDArray[np.float64]
    lo: npt.NDArray[np.float64]
    hi: npt.NDArray[np.float64]
    edges: npt.NDArray[np.float64]
    level: npt.NDArray[np.float64]
    active: npt.NDArray[np.bool_]
    sampled: bool


def _summarise(timeline: Any, n_ticks: int) -> _Summary:
    """The panels' data for ticks ``[0, n_ticks)``. Short calls: every frame (``frame_levels``)
    and the envelope of every sample. Long calls: ``_MAX_POINTS`` buckets of whole frames, each
    with its minimum, maximum, loudest frame's level and whether any frame is audio, rendered a
    block at a time (never the whole call at once), and past ``_EXACT_TICKS`` from
    ``_SAMPLED_FRAMES`` frames at the bucket's middle."""
    n_frames = n_ticks // FRAME
    if n_frames <= _FRAME_BY_FRAME:
        x = timeline.render(0, n_ticks)
        level, active = frame_levels(x)
        t, lo, hi = _envelope(x, 0.0)
        edges = np.arange(len(level) + 1) * FRAME / TICKS_PER_SECOND
        return _Summary(t, lo, hi, edges, level, active, False)
    per = -(-n_frames // _MAX_POINTS)  # frames per bucket
    n_buckets = -(-n_frames // per)
    lo, hi = np.zeros(n_buckets), np.zeros(n_buckets)
    level, active = np.full(n_buckets, _FLOOR_DBM0), np.zeros(n_buckets, dtype=bool)
    sampled = n_ticks > _EXACT_TICKS
    if sampled:
        take = min(per, _SAMPLED_FRAMES)
        spans = [(b, b * per + (min(per, n_frames - b * per) - take) // 2, take) for b in range(n_buckets)]
    else:
        group = max(1, _RENDER_TICKS // (per * FRAME))  # buckets rendered together
        spans = [(b, b * per, min(group * per, n_frames - b * per)) for b in range(0, n_buckets, group)]
    for first_bucket, f0, nf in spans:
        x = timeline.render(f0 * FRAME, (f0 + nf) * FRAME)
        lv, ac = frame_levels(x)
        frames = x.reshape(nf, FRAME)
        fmin, fmax = frames.min(axis=1) / 32768.0, frames.max(axis=1) / 32768.0
        k = 1 if sampled else -(-nf // per)
        bounds = [0] if sampled else list(range(0, nf, per))
        for j in range(k):
            b, a, e = first_bucket + j, bounds[j], (nf if sampled else min(bounds[j] + per, nf))
            lo[b], hi[b] = fmin[a:e].min(), fmax[a:e].max()
            level[b], active[b] = lv[a:e].max(), ac[a:e].any()
    edges = np.minimum(np.arange(n_buckets + 1) * per, n_frames) * FRAME / TICKS_PER_SECOND
    return _Summary(edges[:-1].copy(), lo, hi, edges, level, active, sampled)


# -- drawing ----------------------------------------------------------------------------------
def plot_run(scenario: Scenario, result: Any, path: str | Path, title: str | None = None) -> Path:
    """Draw the timeline of ``result`` (a ``RunResult`` of ``scenario``) to ``path`` (PNG, or any
    format matplotlib infers from the suffix) and return the path. Needs matplotlib."""
    from matplotlib.figure import Figure

    log: list[dict[str, Any]] = list(getattr(result, "log", []) or [])
    final: dict[str, Any] = dict(getattr(result, "final", {}) or {})
    timeline = build_audio(scenario)
    script_end = max([final.get("end_ms", 0) / 1000] + [e["t"] / TICKS_PER_SECOND for e in log])
    if script_end <= 0:
        script_end = timeline.end / TICKS_PER_SECOND
    margin = max(0.25, 0.04 * script_end)
    t_end = script_end + margin
    n_ticks = int(round(t_end * TICKS_PER_SECOND))
    summary_data = _summarise(timeline, n_ticks)
    dtmf = [e for e in timeline.dtmf_events() if e[0] < n_ticks]
    steps = _api_steps(log)
    jobs = recorder_spans(log, final)
    commits = [e for e in log if e["kind"] == "store" and e.get("op") == "commit"]

    zoom = _zoom_window(jobs, script_end, t_end)
    rows = max(1, len(steps))
    ratios = [0.5 + 0.32 * rows, 0.9, 0.6, 2.0, 1.3] + ([1.8] if zoom else [])
    fig = Figure(figsize=(14, 2.0 + sum(ratios) * 0.95), dpi=110, layout="constrained")
    axes = fig.subplots(len(ratios), 1, gridspec_kw={"height_ratios": ratios})
    ax_api, ax_rec, ax_call, ax_wave, ax_lvl = axes[:5]
    for ax in axes[1:5]:
        ax.sharex(axes[0])
    for ax in axes[:5]:
        ax.set_xlim(0, t_end)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    for ax in axes[:4]:
        ax.tick_params(labelbottom=False)

    name = scenario.name or "scenario"
    summary = ""
    if final:
        summary = (f"final: cause={final.get('cause')}  state={final.get('state')}  "
                   f"audio_detected={final.get('audio_detected')}  call={final.get('call_state')}  "
                   f"at {final.get('end_ms', 0) / 1000:.3f} s")
    if summary_data.sampled:
        summary += f"  (waveform and levels sampled: {_SAMPLED_FRAMES} frames per point)"
    if len(dtmf) > _MAX_DTMF_MARKS:
        summary += f"  (first {_MAX_DTMF_MARKS} of {len(dtmf)} DTMF digits marked)"
        dtmf = dtmf[:_MAX_DTMF_MARKS]
    # a long title (a case ID and its finding) is wrapped, never cut at the figure's edge
    heading = "\n".join(textwrap.wrap(title or f"{name} (seed {scenario.seed})", 130)[:4])
    fig.suptitle(heading + ("\n" + summary if summary else ""), fontsize=12, x=0.01, ha="left")

    _draw_api(ax_api, steps, t_end)
    _draw_recorder(ax_rec, jobs, commits, t_end)
    _draw_call(ax_call, _state_spans(scenario, log, t_end))
    _draw_wave(ax_wave, summary_data, dtmf, jobs)
    _draw_levels(ax_lvl, summary_data)
    ax_lvl.set_xlabel("virtual time (s)")
    if zoom:
        _draw_zoom(axes[5], timeline, zoom, dtmf, log, jobs)

    return _save(fig, path)


def _save(fig: Any, path: str | Path) -> Path:
    """Save ``fig`` to ``path`` through ``callsim.outpaths.write_file`` (temporary file and
    atomic rename, a planted symlink replaced, never followed). The format is the suffix's
    (matplotlib's names: png, svg, pdf, ...); a name without a suffix gets ``.png``."""
    import io

    from .outpaths import OutputPathError, check_file_target, write_file

    out = check_file_target(path, option="-o")
    fmt = out.suffix[1:].lower()
    if not fmt:
        out, fmt = out.with_name(out.name + ".png"), "png"
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise OutputPathError("-o", path, f"unknown picture format {fmt!r}; one of {', '.join(sorted(supported))}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return write_file(out, buf.getvalue(), option="-o")


def _draw_api(ax: Any, steps: list[tuple[float, float, str, str, bool]], t_end: float) -> None:
    ax.set_ylabel("API", rotation=0, ha="right", va="center", fontsize=10)
    ax.set_yticks([])
    n = max(1, len(steps))
    ax.set_ylim(n - 0.6, -0.75)
    for i, (t0, t1, label, outcome, is_sleep) in enumerate(steps):
        colour = "#bbbbbb" if is_sleep else ("#d62728" if outcome.startswith("raised") else "#2a6fb0")
        ax.plot([t0, max(t1, t0)], [i, i], color=colour, linewidth=5 if not is_sleep else 3,
                solid_capstyle="butt", alpha=0.8)
        ax.plot([t0], [i], marker=">", color=colour, markersize=7)
        ax.plot([t1], [i], marker="|", color=colour, markersize=12, markeredgewidth=2)
        text = f"{label} {outcome}".strip()
        # The label sits just above its bar, inside the axes: from the call onwards when the call
        # is in the left part of the run, otherwise ending at the return.
        left = t0 < 0.55 * t_end
        txt = ax.text(t0 + 0.004 * t_end if left else t1, i - 0.16, text, ha="left" if left else "right",
                      va="bottom", fontsize=8.5, clip_on=True,
                      color="#666666" if is_sleep else "black", fontweight="normal" if is_sleep else "bold")
        txt.set_in_layout(False)


def _draw_recorder(ax: Any, jobs: list[RecorderSpan], commits: list[dict[str, Any]], t_end: float) -> None:
    ax.set_ylabel("recorder", rotation=0, ha="right", va="center", fontsize=10)
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    ax.axhspan(0.3, 0.7, color="#f2f2f2", zorder=0)  # grey: IDLE (no job running)
    for j in jobs:
        end = t_end if j.end is None else j.end
        ax.broken_barh([(j.start, max(end - j.start, 1e-6))], (0.3, 0.4), color="#2ca02c", alpha=0.85)
        if j.first_frame is not None and j.first_frame > j.start:
            ax.axvline(j.first_frame, ymin=0.25, ymax=0.75, color="#1a5e1a", linewidth=1)
        label = "RECORDING" + (f" {j.file}" if j.file else "") + (" (inferred)" if j.inferred else "")
        if end - j.start >= 0.15 * t_end:  # a short job gets no label: the cause says it all
            ax.text((j.start + end) / 2, 0.5, label, ha="center", va="center", fontsize=8, color="white",
                    fontweight="bold", clip_on=True)
        if j.end is not None:
            colour = _CAUSE_COLOURS.get(str(j.cause), "black")
            ax.axvline(j.end, color=colour, linewidth=2)
            ax.text(j.end, 0.92, f" {j.cause}", ha="left" if j.end < 0.85 * t_end else "right",
                    va="top", fontsize=10, fontweight="bold", color=colour)
    for c in commits:
        t = c["t"] / TICKS_PER_SECOND
        ax.plot([t], [0.12], marker="v", color="#444444", markersize=6)
        ax.text(t, 0.02, f" published {c.get('file', '')}", fontsize=7, color="#444444",
                ha="left" if t < 0.85 * t_end else "right", va="bottom")


def _draw_call(ax: Any, spans: list[tuple[float, float, str]]) -> None:
    ax.set_ylabel("call", rotation=0, ha="right", va="center", fontsize=10)
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    for t0, t1, state in spans:
        ax.broken_barh([(t0, max(t1 - t0, 1e-6))], (0.1, 0.8), color=_STATE_COLOURS.get(state, "#d8e4f0"),
                       edgecolor="#888888", linewidth=0.5)
        ax.text((t0 + t1) / 2, 0.5, state, ha="center", va="center", fontsize=8.5, clip_on=True)


def _draw_dtmf(ax: Any, dtmf: list[tuple[int, int, str, bool]], y_text: float, *, label_size: float = 10) -> None:
    for on, off, digit, oob in dtmf:
        t0, t1 = on / TICKS_PER_SECOND, off / TICKS_PER_SECOND
        if oob:
            ax.axvline(t0, color=_OOB, linestyle="--", linewidth=1.5)
            ax.text(t0, y_text, f" {digit} (out-of-band)", color=_OOB, fontsize=label_size, fontweight="bold",
                    va="top", ha="left")
        else:
            ax.axvspan(t0, t1, color=_INBAND, alpha=0.25, linewidth=0)
            ax.axvline(t0, color=_INBAND, linewidth=1)
            ax.text(t0, y_text, f" DTMF {digit}", color=_INBAND, fontsize=label_size, fontweight="bold",
                    va="top", ha="left")


def _draw_wave(ax: Any, data: _Summary, dtmf: list[tuple[int, int, str, bool]], jobs: list[RecorderSpan]) -> None:
    ax.set_ylabel("far end", rotation=0, ha="right", va="center", fontsize=10)
    t, lo, hi = data.t, data.lo, data.hi
    ax.fill_between(t, lo, hi, color="#333333", linewidth=0.3, step="post")
    peak = float(np.nanmax(np.abs(np.concatenate([lo, hi])))) if len(t) else 0.0
    lim = max(peak * 1.15, 0.02)
    ax.set_ylim(-lim, lim)
    if peak > 0:
        ax.set_yticks([-peak, 0, peak])
        ax.set_yticklabels([f"{-peak:.2g}", "0", f"{peak:.2g}"], fontsize=7)
    else:
        ax.set_yticks([0])
        ax.text(0.5, 0.6, "digital silence", transform=ax.transAxes, ha="center", color="#999999")
    _draw_dtmf(ax, dtmf, lim * 0.98)
    for j in jobs:
        if j.end is not None:
            ax.axvline(j.end, color=_CAUSE_COLOURS.get(str(j.cause), "black"), linewidth=1.2, alpha=0.8)


def _draw_levels(ax: Any, data: _Summary) -> None:
    ax.set_ylabel("frame\nlevel\n(dBm0)", rotation=0, ha="right", va="center", fontsize=9)
    t, level = data.edges, data.level
    for a, b in _runs(data.active):
        ax.axvspan(t[a], t[b], color="#2ca02c", alpha=0.18, linewidth=0)
    if len(level):
        ax.stairs(level, t, color="#2a6fb0", linewidth=0.9, baseline=None)
    ax.axhline(SILENCE_DBM0, color="#d62728", linestyle="--", linewidth=1)
    ax.text(0.998, 0.04, "green: audio frames (>= -45 dBm0, red line); white: silence",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=7.5, color="#d62728",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    ax.set_ylim(_FLOOR_DBM0 - 5, 5)
    ax.set_yticks([-80, -60, -45, -20, 0])
    ax.tick_params(axis="y", labelsize=7)


def _zoom_window(jobs: list[RecorderSpan], script_end: float, t_end: float) -> tuple[float, float, float] | None:
    """(start, end, focus) seconds around the last job's end, or None if no job ended."""
    ended = [j for j in jobs if j.end is not None]
    if not ended:
        return None
    focus = ended[-1].end
    assert focus is not None
    a = max(0.0, focus - 0.3)
    return a, min(max(t_end, focus + 0.05), focus + 0.2), focus


def _draw_zoom(ax: Any, timeline: Any, window: tuple[float, float, float], dtmf: list[tuple[int, int, str, bool]],
               log: list[dict[str, Any]], jobs: list[RecorderSpan]) -> None:
    a, b, focus = window
    ta, tb = int(round(a * TICKS_PER_SECOND)), int(round(b * TICKS_PER_SECOND))
    x = timeline.render(ta, tb).astype(np.float64) / 32768.0
    t = (np.arange(ta, tb)) / TICKS_PER_SECOND
    ax.plot(t, x, color="#333333", linewidth=0.6)
    peak = max(float(np.max(np.abs(x))) if len(x) else 0.0, 0.02)
    ax.set_ylim(-peak * 1.25, peak * 1.25)
    ax.set_xlim(a, b)
    for k in range(-(-ta // FRAME), tb // FRAME + 1):
        ax.axvline(k * FRAME / TICKS_PER_SECOND, color="#cccccc", linewidth=0.5, zorder=0)
    _draw_dtmf(ax, [d for d in dtmf if d[1] > ta and d[0] < tb], peak * 1.22, label_size=9)
    job = [j for j in jobs if j.end == focus][-1]
    colour = _CAUSE_COLOURS.get(str(job.cause), "black")
    # Green is what the file holds: whole frames from the first frame (the job's own log says how
    # many); for a recorder that logs nothing, the whole job span.
    rec_from = max(a, job.first_frame if job.first_frame is not None else job.start)
    rec_to = job.recorded_end if job.recorded_end is not None else focus
    if rec_from < rec_to:
        ax.axvspan(rec_from, rec_to, color="#2ca02c", alpha=0.12, linewidth=0)
    ax.axvline(focus, color=colour, linewidth=2)
    ax.text(focus, -peak * 1.2, f" job ends: {job.cause} at {focus * 1000:.1f} ms", color=colour,
            fontsize=9, fontweight="bold", va="bottom", ha="left" if focus < a + 0.75 * (b - a) else "right")
    ax.set_title("zoom on the end of the last job (grey lines: 20 ms frame boundaries; green: what the file holds)",
                 fontsize=9, loc="left")
    ax.set_xlabel("virtual time (s)")
    ax.tick_params(axis="y", labelsize=7)


# -- the command ------------------------------------------------------------------------------
def plot_scenario(args: Any, factory: Any = None) -> int:
    """``callsim plot``: run ``args.scenario`` with ``factory`` (the caller resolves it; the
    ``callsim`` command passes the reference unless ``--recorder-factory`` names another) and
    write the timeline to ``args.output``. 0 on success, 2 on errors."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("callsim plot: matplotlib is not installed; install callsim[plot] "
              "(pip install 'callsim[plot]')", file=sys.stderr)
        return 2
    from simulator.runner import run_scenario
    from simulator.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:  # one line "file: key: reason", as callsim run prints it
        print(exc, file=sys.stderr)
        return 2
    if factory is None:
        print("callsim plot: no recorder factory given", file=sys.stderr)
        return 2
    from .outpaths import OutputPathError, check_file_target

    output = str(args.output or "timeline.png")
    if output.endswith(("/", os.sep)) or Path(output).is_dir():
        output = str(Path(output) / "timeline.png")  # a folder: the picture goes inside it
    try:
        check_file_target(output, option="-o")
    except OutputPathError as exc:
        print(f"callsim plot: {exc}", file=sys.stderr)
        return 2
    try:
        result = run_scenario(scenario, factory)
    except RuntimeError as exc:  # the factory could not build a recorder (RecorderFailed)
        print(f"callsim plot: {exc}", file=sys.stderr)
        return 2
    try:
        out = plot_run(scenario, result, output)
    except OutputPathError as exc:
        print(f"callsim plot: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0
