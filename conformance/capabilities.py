"""Capabilities an implementation declares, so a missing optional feature grades UNSUPPORTED.

The spec requires every format and rate; an implementation may still declare that it lacks
some (a vendor validating a partial port), and the suite then grades the cases that need them
UNSUPPORTED instead of FAIL. Declare them on the factory as ``factory.callsim_capabilities`` (a
``Capabilities``), or pass ``capabilities=`` to ``check_recorder``/``--capabilities``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callsim.contract import FORMATS, RATES

__all__ = ["Capabilities", "ALL_FORMATS", "ALL_RATES", "capabilities_of"]

ALL_FORMATS: tuple[str, ...] = FORMATS
ALL_RATES: tuple[int, ...] = RATES


@dataclass(frozen=True)
class Capabilities:
    formats: tuple[str, ...] = field(default=ALL_FORMATS)
    rates: tuple[int, ...] = field(default=ALL_RATES)
    cipher: bool = True
    inband_dtmf: bool = True
    out_of_band_dtmf: bool = True

    def missing(self, *, fmt: str | None = None, rate: int | None = None, cipher: bool = False,
                inband_dtmf: bool = False, out_of_band_dtmf: bool = False) -> str | None:
        """Why a case needing these features is UNSUPPORTED, or None if all are declared."""
        if fmt is not None and fmt not in self.formats:
            return f"format {fmt!r} not declared"
        if rate is not None and rate not in self.rates:
            return f"rate {rate} not declared"
        if cipher and not self.cipher:
            return "cipher not declared"
        if inband_dtmf and not self.inband_dtmf:
            return "in-band DTMF detection not declared"
        if out_of_band_dtmf and not self.out_of_band_dtmf:
            return "out-of-band DTMF not declared"
        return None


def capabilities_of(factory: Any) -> Capabilities:
    """The factory's ``callsim_capabilities``: a ``Capabilities``, or a mapping of the same
    fields (what a recorder process declares in its handshake, ``docs/protocol.md``); every
    capability when it declares none."""
    caps = getattr(factory, "callsim_capabilities", None)
    if isinstance(caps, Capabilities):
        return caps
    if isinstance(caps, Mapping):
        known: dict[str, Any] = {k: (tuple(v) if k in ("formats", "rates") else bool(v)) for k, v in caps.items()
                 if k in ("formats", "rates", "cipher", "inband_dtmf", "out_of_band_dtmf")}
        return Capabilities(**known)
    return Capabilities()
