"""``callsim import`` on a one-hour capture, against reading the same file with dpkt alone.

    python bench/import_speed.py [--minutes 60] [--runs 3]

Builds (outside the timed region) a capture of one call of ``--minutes`` minutes: SIP around two
RTP streams, the caller's (A-law, 50 packets/s, with 0.5 % loss, jitter and a few digits) and
the callee's (which the import must skip), written as pcap by ``tests/pcapgen.py``. Then times,
each in this process, median of ``--runs``:

* **dpkt alone**: ``dpkt.pcap.Reader`` over the file, each record decoded to its UDP payload
  (Ethernet -> IP -> UDP): the least any importer built on the library does;
* **import**: ``callsim.importer.import_capture`` end to end (read, SIP, RTP reassembly, G.711,
  WAV and scenario written).

Prints a Markdown table (the ratio is import time / dpkt-alone time). Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import dpkt  # noqa: E402

from callsim.importer import ImportOptions, import_capture  # noqa: E402
from tests.pcapgen import Call, Packet, chirp, write_capture  # noqa: E402


def make_capture(path: Path, minutes: float) -> int:
    seconds = minutes * 60
    rng = np.random.default_rng(1)
    audio = np.tile(chirp(10.0, level=6000.0), int(np.ceil(seconds / 10)))[: int(seconds * 8000)]
    digits = [(float(t), "5", 0.1) for t in np.arange(30.0, seconds - 1, 300.0)]
    call = Call(audio, digits=digits)
    kept = []
    for p in call.rtp:
        if rng.random() < 0.005:
            continue
        p.time += float(rng.gamma(2.0, 0.004))
        kept.append(p)
        back = Packet(p.time + 0.003, p.seq, p.ts, 0x0BAC0BAC, 8, p.payload, p.marker, p.dst, p.src)
        kept.append(back)
    call.rtp = kept
    frames = call.frames()
    write_capture(path, frames)
    return len(frames)


def dpkt_alone(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(buf).data
            if isinstance(ip.data, dpkt.udp.UDP):
                n += len(ip.data.data) > 0
    return n


def timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cap = Path(d) / "hour.pcap"
        t = time.perf_counter()
        packets = make_capture(cap, a.minutes)
        made = time.perf_counter() - t
        size = cap.stat().st_size
        base, imp = [], []
        for i in range(a.runs):
            base.append(timed(lambda: dpkt_alone(cap)))
            opts = ImportOptions(capture=cap, output=Path(d) / f"out{i}.toml")
            imp.append(timed(lambda opts=opts: import_capture(opts)))
        bw, bc = statistics.median(x[0] for x in base), statistics.median(x[1] for x in base)
        iw, ic = statistics.median(x[0] for x in imp), statistics.median(x[1] for x in imp)
    seconds = a.minutes * 60
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"capture: {a.minutes:g} min call, {packets:,} packets, {size / 1e6:.1f} MB (built in {made:.0f} s); "
          f"Python {platform.python_version()}, dpkt {dpkt.__version__}, {platform.processor() or platform.machine()}, "
          f"`nproc` = {os.cpu_count()}, load average at the end {load}; median of {a.runs}")
    print()
    print("| what | CPU (s) | wall (s) | packets per CPU second | real time (CPU) | ratio to dpkt alone (CPU / wall) |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| dpkt alone: read + decode to UDP | {bc:.2f} | {bw:.2f} | {packets / bc:,.0f} | {seconds / bc:,.0f}x | 1 |")
    print(f"| `callsim import` end to end | {ic:.2f} | {iw:.2f} | {packets / ic:,.0f} | {seconds / ic:,.0f}x | "
          f"{ic / bc:.2f} / {iw / bw:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
