"""callsim's reference recorder: ``FileRecorder`` and its codecs, WAV writer, detectors,
resampler and cipher."""

from .cipher import Cipher
from .filerecorder import Cause, FileRecorder, State

__all__ = ["Cause", "Cipher", "FileRecorder", "State"]
