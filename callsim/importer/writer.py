"""The imported call written out: the far end's audio as a WAV file beside a scenario file.

The scenario uses only keys the loader (``simulator/scenario.py``) already has: ``[call]``
``state``, ``hangup_ms`` and ``[[call.changes]]``, one ``[[audio]]`` item of ``kind = "file"``
for the audio and one ``kind = "dtmf"`` item with ``out_of_band = true`` per RFC 4733 digit, and
an action script that records the whole call. The text is checked with the loader before
anything is written, and both files are written to a temporary name and renamed, so an import
that fails leaves no half-written file. Same capture and options, same bytes.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile
import tomli_w

from simulator.scenario import ScenarioError, loads_scenario

__all__ = ["ScenarioText", "render_scenario", "write_outputs", "RECORDING_NAME"]

#: The file the scenario's action script records (a media-store name, not a path).
RECORDING_NAME = "recording.wav"


@dataclass(frozen=True)
class ScenarioText:
    header: list[str]                    #: comment lines (without "# ")
    data: dict[str, Any]                 #: the scenario as the loader reads it

    def text(self) -> str:
        head = "".join(f"# {_comment(line)}\n" for line in self.header)
        return head + "\n" + tomli_w.dumps(self.data)


def _comment(line: str) -> str:
    """A line safe inside a TOML comment: control characters (newlines included) are escaped."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   for c in line)


def render_scenario(*, name: str, description: str, header: list[str], state: str, hangup_ms: int,
                    changes: list[tuple[int, str]], wav_name: str | None, wav_at_ms: int,
                    digits: list[tuple[int, str, int]]) -> ScenarioText:
    """The scenario's data: ``digits`` are (at_ms, digit, duration_ms)."""
    call: dict[str, Any] = {"state": state, "hangup_ms": hangup_ms}
    if changes:
        call["changes"] = [{"at_ms": at, "state": s} for at, s in changes]
    audio: list[dict[str, Any]] = []
    if wav_name is not None:
        audio.append({"at_ms": wav_at_ms, "kind": "file", "path": wav_name})
    for at, digit, dur in digits:
        audio.append({"at_ms": at, "kind": "dtmf", "digits": digit, "out_of_band": True, "tone_ms": max(1, dur)})
    seconds = max(120, -(-hangup_ms // 1000) + 1)
    actions = [{"call": "record", "args": {
        "filename": RECORDING_NAME, "file_format": "alaw", "seconds_timeout": seconds, "max_bytes": 0,
        "milliseconds_max_silence": 0}}]
    data: dict[str, Any] = {"name": name, "description": description, "seed": 0, "call": call}
    if audio:
        data["audio"] = audio
    data["actions"] = actions
    return ScenarioText(header, data)


def check_writable(scenario: Path, wav: Path, *, force: bool) -> str | None:
    """Why the two outputs cannot be written (None if they can)."""
    if scenario.suffix != ".toml":
        return f"{scenario}: the scenario file must end in .toml"
    folder = scenario.parent
    if not folder.is_dir():
        return f"{scenario}: cannot write: folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{scenario}: cannot write: folder {folder} is not writable"
    for p in (scenario, wav):
        if p.is_dir():
            return f"{p}: cannot write: it is a folder"
        if p.exists() and not force:
            return f"{p}: already exists (use --force to overwrite it)"
    return None


def write_outputs(scenario_path: Path, wav_path: Path, text: ScenarioText,
                  samples: npt.NDArray[np.int16] | None) -> None:
    """Write the WAV (if any) and the scenario, each atomically; the scenario is loaded back
    with the simulator's loader first. Raises OSError or ScenarioError."""
    written: list[Path] = []
    try:
        if samples is not None:
            _atomic(wav_path, lambda f: soundfile.write(f, samples, 8000, subtype="PCM_16", format="WAV"))
            written.append(wav_path)
        body = text.text()
        loads_scenario(body, source=str(scenario_path), base_dir=str(scenario_path.parent))
        _atomic(scenario_path, lambda f: f.write(body.encode("utf-8")))
    except (OSError, ScenarioError, soundfile.SoundFileError):
        for p in written:
            p.unlink(missing_ok=True)
        raise


def _atomic(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 is for the temporary name only
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
