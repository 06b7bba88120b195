"""The clause registry: every requirement sentence of the spec page and every decision.

``SPEC-*`` clauses are fixed by the vendor's text (a violation grades FAIL). ``SD-*`` clauses
are our decisions from ``docs/spec-decisions.md`` (another behaviour grades NON-STRICT, since
the text allows other readings). IDs are stable: add, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Clause", "CLAUSES", "clause", "SPEC_DECISIONS_VERSION"]

#: Version of docs/spec-decisions.md this registry follows (recorded in every report).
SPEC_DECISIONS_VERSION = 1


@dataclass(frozen=True)
class Clause:
    id: str
    text: str
    source: str  # "spec" (fixed by the text) or "decision" (docs/spec-decisions.md)
    family: str

    @property
    def fixed(self) -> bool:
        return self.source == "spec"


_SPEC = [
    ("SPEC-CAUSE", "cause", "Cause has exactly ERROR, BARGEIN, SILENCE, SIZE, ABORTED, HANGUP, TIMEOUT, NONE"),
    ("SPEC-CAUSE-END", "cause", "once a job has ended (state IDLE or ERROR) cause() is the job's termination cause"),
    ("SPEC-CAUSE-FN", "cause", "cause() is NONE while a job is running and before any job"),
    ("SPEC-STATE", "state", "State has exactly RECORDING, IDLE, ERROR"),
    ("SPEC-STATE-FN", "state", "state() is RECORDING while a job runs and IDLE when no job is in progress"),
    ("SPEC-STATE-ERROR", "state", "a failed job leaves state ERROR with cause ERROR"),
    ("SPEC-AUDIO", "audio", "audio_detected_in_recording() is None before or during a job"),
    ("SPEC-AUDIO-TRUE", "audio", "after a job, True if audio was detected during it"),
    ("SPEC-AUDIO-FALSE", "audio", "after a job, False when the recording holds only silence"),
    ("SPEC-RECORD", "record", "record() records a WAV file to filename and blocks until the job ends, returning its cause"),
    ("SPEC-RECORD-DEFAULTS", "record", "record/start defaults: alaw, 8000, seconds_timeout 120, max_bytes 1920000, max silence 10000, initial silence 0, barge_in False, cipher None"),
    ("SPEC-RECORD-TIMEOUT", "limits", "record() ends with TIMEOUT when seconds_timeout expires"),
    ("SPEC-START", "start", "start() begins a job, blocks until recording has started and returns True on success"),
    ("SPEC-STOP", "stop", "stop() ends a running job (ABORTED) and returns True; returns True at once when not RECORDING"),
    ("SPEC-WAIT", "wait", "wait_until_finished() blocks until the job ends and returns its cause"),
    ("SPEC-WAIT-TIMEOUT", "wait", "wait_until_finished() returns TIMEOUT when its own timeout expires"),
    ("SPEC-WAIT-NONE", "wait", "wait_until_finished(None) waits without limit"),
    ("SPEC-EXC-HANGUP", "exceptions", "record/start/stop/wait_until_finished raise Hangup when the call state is IDLE"),
    ("SPEC-EXC-NOTANSWERED", "exceptions", "they raise Error when the call state is neither IDLE nor ANSWERED"),
    ("SPEC-EXC-BUSY", "exceptions", "record/start raise Error when the record state is already RECORDING"),
    ("SPEC-EXC-ORDER", "exceptions", "the call-state check comes before the record-state check"),
    ("SPEC-SIZE", "limits", "the job ends with SIZE when the file reaches max_bytes"),
    ("SPEC-SILENCE", "limits", "the job ends with SILENCE after milliseconds_max_silence of silence"),
    ("SPEC-INITIAL-SILENCE", "limits", "the job ends (SILENCE) when no audio arrives within milliseconds_initial_silence"),
    ("SPEC-BARGEIN", "limits", "with barge_in=True a DTMF digit ends the job with BARGEIN; with False it does not"),
    ("SPEC-HANGUP-CAUSE", "limits", "a call hangup during a job ends it with HANGUP"),
    ("SPEC-ZERO-OFF", "limits", "max_bytes=0, milliseconds_max_silence=0, milliseconds_initial_silence=0 switch that limit off"),
    ("SPEC-FORMATS", "formats", "file_format alaw, ulaw, oki, ima, s16bit, u8bit each give a WAV in that encoding"),
    ("SPEC-RATES", "formats", "rate 8000, 6000, 11000, 11025 each give a WAV at that rate"),
    ("SPEC-WAV", "formats", "the recording is a valid mono WAV file whose audio is the caller's audio"),
    ("SPEC-CIPHER", "cipher", "with a cipher the completed file is encrypted (AES-CBC, openssl-compatible)"),
    ("SPEC-EXAMPLES", "api", "every usage example of the page runs as written"),
]

_DECISIONS = [
    ("SD-HANGUP", "limits", "record() returns HANGUP (no exception) when the call hangs up mid-job; audio up to the hangup is kept"),
    ("SD-WAIT-TIMEOUT", "wait", "after a wait TIMEOUT the job keeps running (RECORDING, cause NONE)"),
    ("SD-TIES", "limits", "frames ending at T before events at T; SIZE > BARGEIN > SILENCE; hangup > digit > timer"),
    ("SD-INITIAL-SILENCE", "limits", "initial silence suspends max silence until first audio; with 0, max silence covers leading silence"),
    ("SD-SILENCE", "limits", "a frame is silent below -45 dBm0; SILENCE at the end of the ceil(M/20)-th silent frame"),
    ("SD-AUDIO", "audio", "audio detected = at least one frame at or above -45 dBm0"),
    ("SD-DTMF-FILE", "formats", "the barge-in digit's frames up to detection stay in the file"),
    ("SD-DTMF-BUFFER", "limits", "a digit that began before the job does not barge in"),
    ("SD-SIZE", "limits", "max_bytes counts data bytes; the data never exceeds it; SIZE at the frame reaching it"),
    ("SD-FILES-LEFT", "files", "every cause but ERROR publishes a valid WAV; ERROR publishes nothing"),
    ("SD-ERROR", "state", "a store failure ends the job with ERROR/ERROR; ERROR stays until the next job"),
    ("SD-ARGS", "arguments", "bad arguments raise ArgumentError (Error and ValueError) naming the parameter; nothing changes"),
    ("SD-HOLD", "limits", "hold and transfer do not stop a job"),
    ("SD-NAME", "files", "the store's naming rules; no extension added; overwrite replaces atomically"),
    ("SD-START", "start", "recording starts at the next frame boundary"),
    ("SD-START-FALSE", "start", "start() returns False when the job ended before its first frame"),
    ("SD-STOP", "stop", "stop() ends the job at that instant with ABORTED"),
    ("SD-TIMER", "limits", "seconds_timeout counts from the job's first frame"),
    ("SD-CIPHER", "cipher", "plaintext never reaches the store; key and IV never appear in output"),
]

CLAUSES: dict[str, Clause] = {}
for _id, _fam, _text in _SPEC:
    CLAUSES[_id] = Clause(_id, _text, "spec", _fam)
for _id, _fam, _text in _DECISIONS:
    CLAUSES[_id] = Clause(_id, _text, "decision", _fam)


def clause(cid: str) -> Clause:
    """The clause with this ID (KeyError names unknown IDs)."""
    try:
        return CLAUSES[cid]
    except KeyError:
        raise KeyError(f"unknown clause ID {cid!r}") from None
