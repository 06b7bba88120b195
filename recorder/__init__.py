"""callsim's reference recorder: ``FileRecorder`` and its codecs, WAV writer, detectors and
resampler. It imports nothing from outside but the contract (``callsim.contract``); ``Cipher``
is the contract's value, re-exported here under its first spelling (``recorder.Cipher``)."""

from callsim.contract import Cipher

from .filerecorder import Cause, FileRecorder, State

__all__ = ["Cause", "Cipher", "FileRecorder", "State"]
