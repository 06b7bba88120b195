"""``callsim import``: the command's options, its report and its exit status.

Exit status 0 when the scenario and WAV were written, 2 for anything that stopped the import
(one line on stderr, no traceback, nothing written).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from callsim.textsafe import printable

__all__ = ["add_parser", "run_import"]

DESCRIPTION = """\
Turn a packet capture (pcap or pcapng) of a call into a scenario that `callsim run` replays:
the far end's RTP audio (G.711) as a WAV beside the scenario, placed by RTP timestamp, the call's
hold/resume and hangup from the SIP signalling, RFC 4733 digits as out-of-band digits."""


def _hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 192.0.2.10:40000), got {value!r}")
    return host, int(port)


def _ssrc(value: str) -> int:
    try:
        n = int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an SSRC (decimal or 0x hex), got {value!r}") from None
    if not 0 <= n < 1 << 32:
        raise argparse.ArgumentTypeError(f"an SSRC is 32 bits, got {value!r}")
    return n


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    p = sub.add_parser("import", help="turn a packet capture of a call into a replayable scenario",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("capture", help="pcap or pcapng file")
    p.add_argument("-o", "--output", required=True, metavar="SCENARIO.toml",
                   help="scenario file to write; the audio goes beside it as SCENARIO.wav")
    p.add_argument("--call-id", help="the call to import when the capture holds several")
    p.add_argument("--rtp", type=_hostport, metavar="HOST:PORT",
                   help="the stream sent to HOST:PORT (or, if none is, sent from it), with or without signalling")
    p.add_argument("--ssrc", type=_ssrc, help="the stream with this SSRC (decimal or 0x hex)")
    p.add_argument("--far-end", choices=("caller", "callee"), default="caller",
                   help="whose audio to import: the party that sent the INVITE (default) or the one that answered")
    p.add_argument("--force", action="store_true", help="overwrite the scenario and WAV if they exist")
    p.add_argument("--json", action="store_true", help="print the import report as one JSON object")
    p.set_defaults(func=run_import)
    return p


def run_import(args: argparse.Namespace) -> int:
    try:
        from .core import CaptureError, ImportOptions, import_capture
    except ImportError as exc:  # the import extra (dpkt) is not installed
        print(f"callsim import: needs the import extra ({exc.name or exc}): pip install \"callsim[import]\"",
              file=sys.stderr)
        return 2
    opts = ImportOptions(capture=Path(args.capture), output=Path(args.output), call_id=args.call_id, rtp=args.rtp,
                         ssrc=args.ssrc, far_end=args.far_end, force=args.force)
    try:
        result = import_capture(opts)
    except CaptureError as exc:
        print(printable(f"callsim import: {' '.join(str(exc).split())}"), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return 0
    print(printable(f"wrote {result.scenario}" + (f" and {result.wav}" if result.wav else "")))
    for line in result.text.header[1:]:
        print(printable(f"  {line}"))
    for w in result.warnings:
        print(printable(f"warning: {w}"), file=sys.stderr)
    return 0
