"""callsim: a deterministic virtual call simulator, a reference call recorder and the
conformance suite that grades any recorder against the vendor's spec.

Packages: ``callsim.contract`` (what an implementer imports), ``simulator`` (the virtual call),
``recorder`` (the reference ``FileRecorder``), ``conformance`` (the suite), ``callsim.wiring``
(the composition root that picks the default recorder), ``callsim.cli`` and ``callsim.plot``
(the ``callsim`` command and its timeline pictures). Importing this package does nothing else.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("callsim")
except PackageNotFoundError:  # run from a checkout that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
