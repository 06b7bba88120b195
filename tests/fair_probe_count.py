"""Count FAIL/NON-STRICT per fairness probe over the whole catalogue (a measurement helper,
not a test): ``python3 -m tests.fair_probe_count [--properties]``."""

from __future__ import annotations

import sys
import time

import conformance
from tests.fair_probes import PROBES


def main() -> None:
    props = "--properties" in sys.argv
    names = [a for a in sys.argv[1:] if not a.startswith("--")]
    for cls in PROBES:
        if names and cls.__name__ not in names:
            continue
        t = time.perf_counter()
        r = conformance.check_recorder(cls, with_properties=props)
        fails = [c for c in r.cases if c.grade.value == "FAIL"]
        ns = [c for c in r.cases if c.grade.value == "NON-STRICT"]
        print(f"{cls.__name__:24s} FAIL {len(fails):3d} NON-STRICT {len(ns):3d} of {len(r.cases)} "
              f"({time.perf_counter() - t:.0f} s)", flush=True)
        for c in fails[:40]:
            print(f"    FAIL {c.id}: {c.summary()[:300]}")


if __name__ == "__main__":
    main()
