"""The clause registry: every requirement sentence of the spec page and every decision.

``SPEC-*`` clauses are fixed by the vendor's text (a violation grades FAIL). ``SD-*`` clauses
are our decisions from ``docs/spec-decisions.md`` (another behaviour grades NON-STRICT, since
the text allows other readings). ``PROTOCOL-*`` clauses are the rules of the recorder wire
protocol, ``docs/protocol.md`` (a recorder process that breaks one fails the case): their quote
is a sentence of that document, not of the vendor's page. IDs are stable: add, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Clause", "CLAUSES", "clause", "SPEC_DECISIONS_VERSION"]

#: Version of docs/spec-decisions.md this registry follows (recorded in every report).
SPEC_DECISIONS_VERSION = 2


@dataclass(frozen=True)
class Clause:
    id: str
    text: str
    source: str  # "spec" (fixed by the text), "decision" (docs/spec-decisions.md) or "protocol" (docs/protocol.md)
    family: str
    #: SPEC clauses: the sentence of the vendor's recorder page the clause rests on, verbatim
    #: (whitespace normalised); PROTOCOL clauses: the sentence of docs/protocol.md; empty for
    #: decisions, which the text does not fix.
    quote: str = ""

    @property
    def fixed(self) -> bool:
        """A violation is a FAIL: the vendor's text or the wire protocol's rules fix it."""
        return self.source in ("spec", "protocol")


#: Each SPEC clause: (ID, family, summary, the sentence of the vendor's recorder page it rests on,
#: quoted verbatim). A FAIL names a SPEC clause, and the report prints its quote.
_SPEC = [
    ("SPEC-CAUSE", "cause", "Cause has exactly ERROR, BARGEIN, SILENCE, SIZE, ABORTED, HANGUP, TIMEOUT, NONE",
     "Once a record job has ended and the record state has returned to IDLE or ERROR, the cause will be one of these."),
    ("SPEC-CAUSE-END", "cause", "once a job has ended (state IDLE or ERROR) cause() is the job's termination cause",
     "When a particular job terminates, the reason why can be requested by calling this function."),
    ("SPEC-CAUSE-FN", "cause", "cause() is NONE while a job is running and before any job",
     "If this function is called while a job is still running, the cause will be NONE."),
    ("SPEC-STATE", "state", "State has exactly RECORDING, IDLE, ERROR",
     "Record states: RECORDING recording is in progress. IDLE recording is not in progress. ERROR a record job failed"),
    ("SPEC-STATE-FN", "state", "state() is RECORDING while a job runs and IDLE when no job is in progress",
     "If this function is called when no job is in progress, the state will be IDLE."),
    ("SPEC-STATE-ERROR", "state", "a failed job leaves state ERROR with cause ERROR",
     "ERROR a record job failed"),
    ("SPEC-AUDIO", "audio", "audio_detected_in_recording() is None before or during a job",
     "If it is called during, or before, a record job it will return None."),
    ("SPEC-AUDIO-TRUE", "audio", "after a job, True if audio was detected during it",
     "This function will return True if audio was detected during the record job."),
    ("SPEC-AUDIO-FALSE", "audio", "after a job, False when the recording holds only silence",
     "If this function returns False, this is an indication that the recording contains no audio."),
    ("SPEC-RECORD", "record", "record() records a WAV file to filename and blocks until the job ends, returning its cause",
     "This function is provided to allow the recording of a WAV file to a filename specified in filename."),
    ("SPEC-RECORD-DEFAULTS", "record", "record/start defaults: alaw, 8000, seconds_timeout 120, max_bytes 1920000, max silence 10000, initial silence 0, barge_in False, cipher None",
     "record(filename, file_format='alaw', rate=8000, seconds_timeout=120, max_bytes=1920000, milliseconds_max_silence=10000, milliseconds_initial_silence=0, barge_in=False, cipher=None)"),
    ("SPEC-RECORD-TIMEOUT", "limits", "record() ends with TIMEOUT when seconds_timeout expires",
     "This function will block until the recording has finished or a timeout (seconds_timeout) has expired."),
    ("SPEC-START", "start", "start() begins a job, blocks until recording has started and returns True on success",
     "This function will block until the recording has started or a timeout has expired. Upon return, this function will return True for success, otherwise False."),
    ("SPEC-STOP", "stop", "stop() ends a running job (ABORTED) and returns True; returns True at once when not RECORDING",
     "If the record state is not RECORDING, this function will simply return True. This function will block until the record job terminates or a timeout expires."),
    ("SPEC-WAIT", "wait", "wait_until_finished() blocks until the job ends and returns its cause",
     "This function will block until the recording terminates or the timeout expires."),
    ("SPEC-WAIT-TIMEOUT", "wait", "wait_until_finished() returns TIMEOUT when its own timeout expires",
     "If the timeout does expire, a cause of TIMEOUT will be returned."),
    ("SPEC-WAIT-NONE", "wait", "wait_until_finished(None) waits without limit",
     "Giving a value of None for seconds_timeout will enable an infinite wait."),
    ("SPEC-EXC-HANGUP", "exceptions", "record/start/stop/wait_until_finished raise Hangup when the call state is IDLE",
     "If the call state is IDLE, this function will raise a Hangup exception."),
    ("SPEC-EXC-NOTANSWERED", "exceptions", "they raise Error when the call state is neither IDLE nor ANSWERED",
     "If the call state is not IDLE but also not ANSWERED, this function will raise an Error exception."),
    ("SPEC-EXC-BUSY", "exceptions", "record/start raise Error when the record state is already RECORDING",
     "If the record state is already RECORDING, this function will raise an Error exception."),
    ("SPEC-EXC-ORDER", "exceptions", "the call-state check comes before the record-state check",
     "If the call state is IDLE, this function will raise a Hangup exception. [...] If the record state is already RECORDING, this function will raise an Error exception."),
    ("SPEC-SIZE", "limits", "the job ends with SIZE when the file reaches max_bytes",
     "SIZE record has stopped due to the maximum file size being reached."),
    ("SPEC-SILENCE", "limits", "the job ends with SILENCE after milliseconds_max_silence of silence",
     "milliseconds_max_silence the amount of silence (in milliseconds) after which to stop recording."),
    ("SPEC-INITIAL-SILENCE", "limits", "the job ends (SILENCE) when no audio arrives within milliseconds_initial_silence",
     "milliseconds_initial_silence the amount of silence (in milliseconds) to wait for audio before starting the recording."),
    ("SPEC-BARGEIN", "limits", "with barge_in=True a DTMF digit ends the job with BARGEIN; with False it does not",
     "BARGEIN record has stopped due to the detection of a DTMF digit."),
    ("SPEC-HANGUP-CAUSE", "limits", "a call hangup during a job ends it with HANGUP",
     "HANGUP record ended due to a call hangup."),
    ("SPEC-ZERO-OFF", "limits", "max_bytes=0, milliseconds_max_silence=0, milliseconds_initial_silence=0 switch that limit off",
     "To turn off the termination conditions, max_bytes=0 means no limit; milliseconds_max_silence=0 means no silence timeout and milliseconds_initial_silence=0 means no initial silence timeout."),
    ("SPEC-FORMATS", "formats", "file_format alaw, ulaw, oki, ima, s16bit, u8bit each give a WAV in that encoding",
     "The optional argument file_format is the audio codec in which to record the media."),
    ("SPEC-RATES", "formats", "rate 8000, 6000, 11000, 11025 each give a WAV at that rate",
     "The optional argument rate is the recording rate in Hz."),
    ("SPEC-WAV", "formats", "the recording is a valid mono WAV file whose audio is the caller's audio",
     "A class that provides an API for recording media from a call."),
    ("SPEC-CIPHER", "cipher", "with a cipher the completed file is encrypted (AES-CBC, openssl-compatible)",
     "if the recorded file is to be encrypted, supply the cipher so it can be encrypted when recording is completed."),
    ("SPEC-EXAMPLES", "api", "every usage example of the page runs as written",
     "cause = channel.FileRecorder.record(filename=\"recfile\", milliseconds_max_silence=2000) if cause == channel.FileRecorder.Cause.SILENCE:"),
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
    ("SD-DTMF-Q24", "limits", "in-band digits are judged by ITU-T Q.24: clean standard digits must barge in; the rest of Q.24's acceptance range does, what Q.24 rejects does not (DSP quality: NON-STRICT)"),
    ("SD-DTMF-TALKOFF", "limits", "digit-like tones a clean two-tone sender cannot make do not barge in: a tone pair with strong harmonics or intermodulation products, or holding 2/3 of the power or less; a digit under other sound is judged by its signal-to-noise ratio (DSP quality: NON-STRICT)"),
    ("SD-DTMF-GRAY", "limits", "inside Q.24's gray zone our detector decides (twist, offset, level, length, interruptions, each axis alone at points clear of its edges); a detector deciding otherwise there is graded INFO"),
    ("SD-SIZE", "limits", "max_bytes counts data bytes; the data never exceeds it; SIZE at the frame reaching it"),
    ("SD-FILES-LEFT", "files", "every cause but ERROR publishes a valid WAV; ERROR publishes nothing"),
    ("SD-ERROR", "state", "a store failure ends the job at once with ERROR/ERROR; ERROR stays until the next job"),
    ("SD-ARGS", "arguments", "bad arguments raise ArgumentError (Error and ValueError) naming the parameter; nothing changes"),
    ("SD-HOLD", "limits", "hold and transfer do not stop a job"),
    ("SD-NAME", "files", "the store's naming rules; no extension added; overwrite replaces atomically"),
    ("SD-START", "start", "recording starts at the next frame boundary"),
    ("SD-START-FALSE", "start", "start() returns False when the job ended before its first frame"),
    ("SD-STOP", "stop", "stop() ends the job at that instant with ABORTED"),
    ("SD-TIMER", "limits", "seconds_timeout counts from the job's first frame"),
    ("SD-CIPHER", "cipher", "plaintext never reaches the store; key and IV never appear in output"),
    ("SD-CODEC-IMA", "formats", "IMA ADPCM: 256-byte blocks of 505 samples, fact = the true sample count"),
    ("SD-CODEC-OKI", "formats", "OKI ADPCM: WAV tag 0x0017, fact = the sample count, data a raw .vox stream"),
    ("SD-RESAMPLE", "formats", "6000/11000/11025 Hz: scipy's resample_poly filter, zero phase; a resampler whose in-band error is not 32 dB under loud audio is reported as INFO"),
    ("SD-WAV-LAYOUT", "formats", "the WAV container: a WAVEFORMATEX fmt chunk; any layout standard tools decode identically (WAVE_FORMAT_EXTENSIBLE) is reported as INFO"),
]

#: Each PROTOCOL clause: (ID, summary, the sentence of docs/protocol.md it rests on, verbatim).
_PROTOCOL = [
    ("PROTOCOL-HANDSHAKE", "the process's first reply is a hello naming protocol version 1",
     "The first reply of every process is a hello naming protocol version 1."),
    ("PROTOCOL-MESSAGE", "every message is one JSON object on one line matching its type's schema (known ids only)",
     "Every message is one JSON object on one line that matches the schema of its type."),
    ("PROTOCOL-ORDER", "a reply answers the innermost pending request of the harness",
     "The implementation must answer the innermost pending request of the harness, and only that one."),
    ("PROTOCOL-TIMEOUT", "every message of a reply arrives within the reply timeout",
     "Each message of a reply must arrive within the reply timeout."),
    ("PROTOCOL-EXIT", "the process does not exit, crash or close its output while the harness waits for it",
     "The process must not exit, crash or close its output while the harness is waiting for it."),
    ("PROTOCOL-FLOOD", "lines of at most 128 MiB; at most a million requests while handling one request",
     "A message line is at most 128 MiB long, and an implementation makes at most one million requests while handling one request."),
]

CLAUSES: dict[str, Clause] = {}
for _id, _fam, _text, _quote in _SPEC:
    CLAUSES[_id] = Clause(_id, _text, "spec", _fam, _quote)
for _id, _fam, _text in _DECISIONS:
    CLAUSES[_id] = Clause(_id, _text, "decision", _fam)
for _id, _text, _quote in _PROTOCOL:
    CLAUSES[_id] = Clause(_id, _text, "protocol", "protocol", _quote)


def clause(cid: str) -> Clause:
    """The clause with this ID (KeyError names unknown IDs)."""
    try:
        return CLAUSES[cid]
    except KeyError:
        raise KeyError(f"unknown clause ID {cid!r}") from None
