"""The import itself: a capture in, the far end of one call out as a WAV and a scenario.

Choosing the call: the capture's calls are the Call-IDs with an INVITE; ``call_id`` picks one
and is required when there are several. Choosing the stream: by default the RTP sent by the
*caller* (the party that sent the first INVITE; ``far_end="callee"`` for the other direction)
to the addresses and ports the callee's SDP bodies announce; ``rtp=(host, port)`` or ``ssrc``
choose a stream directly (and are the only way without signalling).

The call's timeline: 0 ms is the 2xx that answered the first INVITE (without signalling, the
stream's first packet). ``hangup_ms`` is the first BYE (or CANCEL); without one, the end of the
call's last packet. A re-INVITE or UPDATE whose offer is ``a=sendonly`` or ``a=inactive`` puts
the call ``ON_HOLD`` at that request; the next offer that is neither resumes it (``ANSWERED``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from simulator.scenario import ScenarioError

from .capture import Capture, CaptureError, Datagram, read_capture
from .dialog import HOLD_DIRECTIONS, STATIC_TYPES, Call, Sdp, find_calls, sip_messages
from .rtp import CodecError, RtpPacket, Stream, parse_rtp, reassemble
from .writer import RECORDING_NAME, ScenarioText, check_writable, render_scenario, write_outputs

__all__ = ["ImportOptions", "ImportResult", "import_capture", "CaptureError"]

#: Seconds after the BYE during which RTP still counts as the call's (a sender stops a little
#: after it); without a BYE the call's RTP runs to the end of the capture.
_TAIL = 2.0
_G711 = ("PCMA", "PCMU")


@dataclass(frozen=True)
class ImportOptions:
    capture: Path
    output: Path
    call_id: str | None = None
    rtp: tuple[str, int] | None = None
    ssrc: int | None = None
    far_end: str = "caller"
    force: bool = False


@dataclass
class ImportResult:
    """What the import wrote and found (``to_json`` is the ``--json`` document)."""

    scenario: Path
    wav: Path | None
    capture: Capture
    call: Call | None
    stream: Stream
    endpoints: list[str]
    hangup_ms: int
    hangup_from: str
    state: str
    changes: list[tuple[int, str]]
    codecs: list[str]
    text: ScenarioText
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        s = self.stream
        return {
            "capture": {"path": self.capture.path, "format": self.capture.format, "link": self.capture.link_name,
                        "packets": self.capture.packets, "ip_fragments": self.capture.fragments},
            "call_id": self.call.call_id if self.call else None,
            "scenario": str(self.scenario),
            "wav": str(self.wav) if self.wav else None,
            "stream": {"endpoints": self.endpoints, "codecs": self.codecs, **s.totals(),
                       "start_ms": s.start_tick / 8, "audio_ms": s.samples.size / 8},
            "segments": [seg.to_json() for seg in s.segments],
            "gaps": [g.to_json() for seg in s.segments for g in seg.gaps],
            "digits": [d.to_json() for d in s.digits],
            "call": {"state": self.state, "hangup_ms": self.hangup_ms, "hangup_from": self.hangup_from,
                     "changes": [{"at_ms": at, "state": st} for at, st in self.changes]},
            "warnings": self.warnings,
        }


def _list_calls(calls: list[Call]) -> str:
    return "; ".join(f"{c.call_id!r} ({c.summary().split('  ', 1)[1]})" for c in calls)


def _choose_call(cap: Capture, calls: list[Call], opts: ImportOptions) -> Call | None:
    src = cap.path
    if opts.call_id is not None:
        for c in calls:
            if c.call_id == opts.call_id:
                return c
        known = f"its calls: {_list_calls(calls)}" if calls else "it has no SIP call"
        raise CaptureError(f"{src}: no call with Call-ID {opts.call_id!r}; {known}")
    if len(calls) > 1:
        raise CaptureError(f"{src}: {len(calls)} calls in the capture; choose one with --call-id: {_list_calls(calls)}")
    if calls:
        return calls[0]
    if opts.rtp is None and opts.ssrc is None:
        udp = sum(1 for d in cap.datagrams if d.proto == "udp")
        raise CaptureError(f"{src}: no SIP call (no INVITE) among its {cap.packets} packets ({udp} UDP); "
                           "give --rtp HOST:PORT or --ssrc to import a stream without signalling")
    return None


def _secure(call: Call) -> str | None:
    for m, sdp in call.sdps(caller=True) + call.sdps(caller=False):
        if sdp.secure:
            how = "a=crypto" if sdp.crypto else sdp.proto
            return f"the call's media is SRTP ({sdp.proto}, {how} in the {m.method} "\
                   f"{'request' if m.is_request else 'response'}): encrypted audio cannot be decoded"
    return None


def _candidates(cap: Capture, call: Call | None, opts: ImportOptions) -> tuple[list[Datagram], list[str]]:
    """The datagrams of the far end's stream (by address; SSRC filtering comes later)."""
    udp = [d for d in cap.datagrams if d.proto == "udp"]
    if call is not None:
        lo = call.start
        bye = call.bye
        hi = bye.time + _TAIL if bye else math.inf
        if not (opts.rtp or opts.ssrc is not None):
            udp = [d for d in udp if lo <= d.time <= hi]
    if opts.rtp is not None:
        host, port = _canonical(opts.rtp[0]), opts.rtp[1]
        to = [d for d in udp if (d.dst, d.dport) == (host, port)]
        frm = [d for d in udp if (d.src, d.sport) == (host, port)]
        if not to and not frm:
            raise CaptureError(f"{cap.path}: no UDP packet to or from {_show(host, port)}")
        return (to or frm), [f"{'to' if to else 'from'} {_show(host, port)}"]
    if opts.ssrc is not None or call is None:
        return udp, [f"SSRC 0x{opts.ssrc:08x}"] if opts.ssrc is not None else []
    near_is_caller = opts.far_end == "callee"
    near = {(_canonical(sdp.address or ""), sdp.port) for _, sdp in call.sdps(caller=near_is_caller) if sdp.port}
    if not near:
        who = "caller" if near_is_caller else "callee"
        raise CaptureError(f"{cap.path}: call {call.call_id!r} has no SDP from the {who}, so its "
                           "far end's RTP destination is unknown; give --rtp HOST:PORT or --ssrc")
    return [d for d in udp if (d.dst, d.dport) in near], [f"to {_show(a, p)}" for a, p in sorted(near)]


def _show(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _canonical(address: str) -> str:
    """An IP address as the capture reader writes it (``socket.inet_ntop``: IPv6 compressed,
    lower case); anything else (a host name in SDP) as given."""
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return address


def _codec_lookup(call: Call | None, far_end: str) -> Callable[[int, int], str]:
    """``codec(pt, size)`` from the SDP: the receiver's rtpmap first (payload type numbers in an
    SDP say what its sender receives), then the sender's, then the static table. Without
    signalling, a dynamic payload type (96-127) whose packets are 4 bytes is taken as RFC 4733
    telephone-event (its usual form)."""
    sdps: list[Sdp] = []
    if call is not None:
        near_is_caller = far_end == "callee"
        sdps = [s for _, s in call.sdps(caller=near_is_caller)] + [s for _, s in call.sdps(caller=not near_is_caller)]
    cache: dict[tuple[int, bool], str] = {}

    def codec(pt: int, size: int) -> str:
        key = (pt, size == 4)
        if key in cache:
            return cache[key]
        found = next((c for c in (s.codec(pt) for s in sdps) if c is not None), STATIC_TYPES.get(pt))
        if found is None and not sdps and 96 <= pt <= 127 and size == 4:
            found = ("telephone-event", 8000)
        if found is None:
            raise CodecError(f"payload type {pt} is not mapped by any a=rtpmap line (unknown codec)")
        name, rate = found
        upper = name.upper()
        if upper in _G711 and rate == 8000:
            result = upper
        elif upper == "TELEPHONE-EVENT":
            result = "telephone-event"
        elif upper == "CN":
            result = "CN"
        else:
            raise CodecError(f"unsupported codec {name}/{rate} (payload type {pt})")
        cache[key] = result
        return result

    return codec


def import_capture(opts: ImportOptions) -> ImportResult:
    """Import one call; raises `CaptureError` (one line) for anything that stops it."""
    scenario = opts.output
    wav = scenario.with_suffix(".wav")
    problem = check_writable(scenario, wav, force=opts.force)
    if problem:
        raise CaptureError(problem)
    cap = read_capture(opts.capture)
    calls = find_calls(sip_messages(cap.datagrams))
    call = _choose_call(cap, calls, opts)
    warnings: list[str] = []
    if call is not None:
        secure = _secure(call)
        if secure:
            raise CaptureError(f"{cap.path}: call {call.call_id!r}: {secure}")
        if call.answered is None:
            raise CaptureError(f"{cap.path}: call {call.call_id!r} was never answered (no 2xx to its INVITE)")
    datagrams, endpoints = _candidates(cap, call, opts)
    packets = [p for p in map(parse_rtp, datagrams) if p is not None]
    if opts.ssrc is not None:
        packets = [p for p in packets if p.ssrc == opts.ssrc]
    if not packets and (call is None or opts.rtp or opts.ssrc is not None):
        raise CaptureError(f"{cap.path}: no RTP packet {' '.join(endpoints) or 'in the capture'}")
    origin = _origin(cap, call, packets)
    codec = _codec_lookup(call, opts.far_end)
    try:
        stream = reassemble(packets, codec, origin=origin)
    except CodecError as exc:
        raise CaptureError(f"{cap.path}: the far end's stream: {exc}; callsim import decodes G.711 A-law "
                           "(PCMA, payload type 8) and mu-law (PCMU, 0), and RFC 4733 telephone-event") from None
    _align_to_ms(stream)
    if not packets:
        warnings.append("no RTP from the far end: the scenario has no audio")
    if stream.dropped_ms:
        warnings.append(f"{stream.dropped_ms:g} ms of audio before the answer (early media) not imported")
    if stream.early_digits:
        warnings.append(f"{stream.early_digits} digits before the answer not imported")
    if cap.fragments:
        warnings.append(f"{cap.fragments} IP fragments were not reassembled")
    if stream.other_events:
        warnings.append(f"{stream.other_events} RFC 4733 packets of events other than DTMF ignored")
    state, changes = _hold(call, origin)
    hangup_ms, hangup_from = _hangup(call, packets, stream, origin)
    changes = [(at, st) for at, st in changes if at < hangup_ms]
    codecs = sorted({codec(p.pt, len(p.payload)) for p in packets})
    text = _scenario_text(opts, cap, call, stream, endpoints, hangup_ms, hangup_from, state, changes,
                          codecs, origin, wav)
    result = ImportResult(scenario, wav if stream.samples.size else None, cap, call, stream, endpoints,
                          hangup_ms, hangup_from, state, changes, codecs, text, warnings)
    try:
        write_outputs(scenario, wav, text, stream.samples if stream.samples.size else None)
    except OSError as exc:
        raise CaptureError(f"{scenario}: cannot write: {exc.strerror or exc}") from None
    except ScenarioError as exc:  # a bug of ours: say so in one line rather than write a bad file
        raise CaptureError(f"{scenario}: not written: the imported scenario does not load ({exc})") from None
    return result


def _align_to_ms(stream: Stream) -> None:
    """Start the audio on a whole millisecond (an ``[[audio]]`` item's ``at_ms``) by leading it
    with the few zero samples before its first one, so every sample keeps its exact tick."""
    lead = stream.start_tick % 8
    if lead:
        stream.samples = np.concatenate([np.zeros(lead, np.int16), stream.samples])
        stream.start_tick -= lead


def _origin(cap: Capture, call: Call | None, packets: list[RtpPacket]) -> float:
    if call is None:
        return min(p.time for p in packets)
    answer = call.answered
    assert answer is not None  # checked by import_capture
    return answer.time


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _hold(call: Call | None, origin: float) -> tuple[str, list[tuple[int, str]]]:
    state = "ANSWERED"
    changes: list[tuple[int, str]] = []
    if call is None:
        return state, changes
    for m, sdp in call.offers():
        new = "ON_HOLD" if sdp.direction in HOLD_DIRECTIONS else "ANSWERED"
        if m.time <= origin:
            state = new
            continue
        current = changes[-1][1] if changes else state
        if new != current:
            changes.append((_ms(m.time - origin), new))
    return state, changes


def _hangup(call: Call | None, packets: list[RtpPacket], stream: Stream, origin: float) -> tuple[int, str]:
    bye = call.bye if call is not None else None
    if call is not None and bye is not None:
        return _ms(bye.time - origin), f"{bye.method} from the {'caller' if call.from_caller(bye) else 'callee'}"
    last = max([p.time for p in packets] + ([call.end] if call is not None else []))
    audio_end = (stream.start_tick + stream.samples.size) / 8
    return max(math.ceil(audio_end), _ms(last - origin)), "the last packet (no BYE)"


def _scenario_text(opts: ImportOptions, cap: Capture, call: Call | None, stream: Stream, endpoints: list[str],
                   hangup_ms: int, hangup_from: str, state: str, changes: list[tuple[int, str]],
                   codecs: list[str], origin: float, wav: Path) -> ScenarioText:
    digest = hashlib.sha256(Path(cap.path).read_bytes()).hexdigest()
    t = stream.totals()
    when = datetime.fromtimestamp(origin, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    header = [f"Imported by `callsim import` from {Path(cap.path).name} ({cap.format}, {cap.packets} packets, "
              f"sha256 {digest[:16]}...)."]
    if call is not None and call.invite is not None:
        inv = call.invite
        header.append(f"Call: Call-ID {call.call_id}, {inv.from_uri} -> {inv.to_uri}; 0 ms here is the "
                      f"answer at {when}.")
    else:
        header.append(f"No signalling: 0 ms here is the stream's first packet at {when}.")
    ssrcs = ", ".join(dict.fromkeys(f"0x{s.ssrc:08x}" for s in stream.segments)) or "none"
    header.append(f"Far end ({opts.far_end if call else 'chosen stream'}): RTP {' '.join(endpoints) or ''}, "
                  f"SSRC {ssrcs}, {'/'.join(codecs) or 'no packets'}; {t['packets']} packets, {t['lost']} lost "
                  f"({t['loss_pct']} %), {t['duplicates']} duplicates, {t['reordered']} reordered, jitter "
                  f"{t['jitter_ms']} ms, {t['segments']} segment(s).")
    if stream.samples.size:
        header.append(f"Audio: {wav.name} (8 kHz 16-bit PCM beside this file), from {stream.start_tick / 8:g} ms; "
                      f"lost packets are silence ({t['lost_ms']} ms); pauses (silence suppression, hold) "
                      f"{t['silence_ms']} ms; audio replaced by digit events {t['event_ms']} ms.")
    if stream.digits:
        header.append("Digits (RFC 4733): " + ", ".join(f"{d.digit} at {d.at_tick / 8:g} ms" for d in stream.digits) + ".")
    header.append(f"Hangup at {hangup_ms} ms ({hangup_from}); hold/resume: "
                  + (", ".join(f"{s} at {at} ms" for at, s in changes) or "none") + ".")
    at_ms = stream.start_tick // 8
    digits = [(d.at_tick // 8, d.digit, d.duration_ms) for d in stream.digits]
    name = opts.output.stem
    description = (f"The far end of call {call.call_id if call else '(no signalling)'} from the capture "
                   f"{Path(cap.path).name}; the script records the whole call to {RECORDING_NAME}.")
    return render_scenario(name=name, description=description, header=header, state=state, hangup_ms=hangup_ms,
                           changes=changes, wav_name=wav.name if stream.samples.size else None, wav_at_ms=at_ms,
                           digits=digits)
