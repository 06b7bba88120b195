"""``callsim import``: a customer's packet capture turned into a replayable scenario.

Modules: ``capture`` (pcap/pcapng through dpkt), ``dialog`` (SIP dialogs and SDP), ``rtp``
(stream reassembly by RTP timestamp, G.711, RFC 4733 digits), ``writer`` (WAV and scenario
files), ``core`` (choosing the call and stream, the call's timeline) and ``command`` (the
command line). Needs the ``import`` extra (``pip install "callsim[import]"``: dpkt).
"""

from __future__ import annotations

from typing import Any

__all__ = ["CaptureError", "ImportOptions", "ImportResult", "import_capture"]


def __getattr__(name: str) -> Any:
    """The public names, imported on first use: the command line registers ``callsim import``
    without loading dpkt, so the other commands work where the extra is not installed."""
    if name in __all__:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
