"""An RTP stream put back in order: audio placed by RTP timestamp, digits from RFC 4733 events.

dpkt parses each packet's fixed header (``dpkt.rtp.RTP``); padding and a header extension are
stripped here (dpkt leaves them in the payload). Time comes from RTP, not from arrival:

* **Segments.** A stream is cut into segments where its timing restarts: a new SSRC, or within
  one SSRC a sequence jump beyond RFC 3550's limits (3000 ahead, 100 behind, appendix A.1), or a
  packet with the marker bit whose timestamp does not follow from the time elapsed since the
  previous packet (off by more than one second: a sender that restarted its clock, not a new
  talkspurt after silence suppression, whose marker comes with a consistent timestamp).
* **Order.** Within a segment sequence numbers and timestamps are unwrapped (16 and 32 bits, to
  the value nearest the previous one), duplicates (the same extended sequence number) are taken
  once and packets are sorted by sequence number; each packet's samples go at its timestamp.
* **Anchor.** A segment's RTP clock is tied to capture time by the packet that arrived the
  least late: ``start = min(arrival - (timestamp - first timestamp) / rate)``, so network
  jitter only ever delays a packet and never moves the audio.
* **Loss** is digital silence (no concealment: a recording of the import shows exactly where
  the customer's audio had holes). A packet whose timestamp is more than 5 s off its arrival
  (against the segment's median) is discarded and counted, never trusted. A gap between two
  audio packets is reported as ``lost`` (sequence numbers between them never arrived),
  ``event`` (the numbers between them are RFC 4733 packets: a sender that replaces audio with
  the event) or ``silence`` (a timestamp jump with consecutive sequence numbers: silence
  suppression, or a pause such as a hold).
* **Jitter** is RFC 3550's interarrival estimate (section 6.4.1, ``J += (|D| - J) / 16``) per
  segment, in milliseconds.
* **Digits** (RFC 4733 ``telephone-event``): one per (segment, event timestamp, event code), so
  the end-of-event packet sent three times counts once; the onset is the event's timestamp.

G.711 is decoded through libsndfile (``soundfile``, already a dependency of the simulator): the
256 codes of each law are decoded once into a table. Not ``audioop`` (removed in Python 3.13),
and not ``conformance.decoders``, the suite's own decoder, kept independent so that it can
check what this module produces (``tests/test_import.py`` pins the two tables to each other).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache

import dpkt
import numpy as np
import numpy.typing as npt
import soundfile

from .capture import Datagram

__all__ = ["RtpPacket", "Segment", "Gap", "Digit", "Stream", "parse_rtp", "reassemble", "g711_table",
           "EVENT_DIGITS", "CodecError"]

#: RFC 4733 section 3.2: DTMF events 0-15.
EVENT_DIGITS = "0123456789*#ABCD"
RATE = 8000
_MAX_DROPOUT, _MAX_MISORDER = 3000, 100
#: A packet whose timestamp is this many seconds off its arrival (against the segment's
#: median) is discarded rather than trusted.
_MAX_SKEW = 5.0


class CodecError(ValueError):
    """A packet of the stream is in a codec the import does not decode."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    time: float
    seq: int
    ts: int
    ssrc: int
    pt: int
    marker: bool
    payload: bytes


def parse_rtp(d: Datagram) -> RtpPacket | None:
    """The RTP packet in a UDP datagram (None for anything else, RTCP included)."""
    p = d.payload
    if d.proto != "udp" or len(p) < 12 or p[0] >> 6 != 2 or 72 <= (p[1] & 0x7F) <= 76:
        return None
    try:
        r = dpkt.rtp.RTP(p)
    except (dpkt.UnpackError, ValueError):
        return None
    data = bytes(r.data)
    if r.x:  # header extension: 16-bit profile, 16-bit length in 32-bit words
        if len(data) < 4:
            return None
        n = 4 + 4 * int.from_bytes(data[2:4], "big")
        if len(data) < n:
            return None
        data = data[n:]
    if r.p:
        pad = data[-1] if data else 0
        if pad == 0 or pad > len(data):
            return None
        data = data[:-pad]
    return RtpPacket(d.time, r.seq, r.ts, r.ssrc, r.pt, bool(r.m), data)


@dataclass(frozen=True)
class Gap:
    at_ms: float         #: on the call's timeline
    duration_ms: float
    kind: str            #: "lost", "event" or "silence"

    def to_json(self) -> dict[str, object]:
        return {"at_ms": round(self.at_ms, 3), "duration_ms": round(self.duration_ms, 3), "kind": self.kind}


@dataclass(frozen=True)
class Digit:
    digit: str
    at_tick: int         #: onset on the call's timeline (8 kHz ticks)
    duration_ms: int     #: the event's longest duration field
    packets: int         #: packets that carried it (retransmissions included)
    ended: bool          #: an end-of-event packet was seen

    def to_json(self) -> dict[str, object]:
        return {"digit": self.digit, "at_ms": self.at_tick / 8, "duration_ms": self.duration_ms,
                "packets": self.packets, "ended": self.ended}


@dataclass
class Segment:
    """One run of a stream with one RTP clock."""

    ssrc: int
    reason: str                          #: why it begins: "first", "ssrc change", "marker restart", "sequence jump"
    packets: list[tuple[int, int, RtpPacket]] = field(default_factory=list)  # (ext seq, ext ts, packet)
    start_tick: int = 0                  #: call-timeline tick of the segment's first timestamp
    base_ts: int = 0
    duplicates: int = 0
    reordered: int = 0
    discarded: int = 0                   #: packets whose timestamp disagrees with their arrival
    lost: int = 0
    expected: int = 0
    jitter_ms: float = 0.0
    max_transit_ms: float = 0.0          #: the latest packet's delay behind the anchor
    seq_wrapped: bool = False
    ts_wrapped: bool = False
    gaps: list[Gap] = field(default_factory=list)
    audio_samples: int = 0
    payload_types: tuple[int, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"ssrc": f"0x{self.ssrc:08x}", "begins": self.reason, "packets": len(self.packets),
                "expected": self.expected, "lost": self.lost, "duplicates": self.duplicates,
                "discarded": self.discarded, "reordered": self.reordered, "jitter_ms": round(self.jitter_ms, 3),
                "max_delay_ms": round(self.max_transit_ms, 3), "start_ms": self.start_tick / 8,
                "audio_ms": self.audio_samples / 8, "sequence_wrapped": self.seq_wrapped,
                "timestamp_wrapped": self.ts_wrapped, "payload_types": list(self.payload_types),
                "gaps": [g.to_json() for g in self.gaps]}


@dataclass
class Stream:
    """The far end's audio on the call's timeline and what was found on the way."""

    samples: npt.NDArray[np.int16]       #: audio from ``start_tick`` on
    start_tick: int
    segments: list[Segment]
    digits: list[Digit]
    other_events: int = 0                #: RFC 4733 events that are not DTMF digits (flash, tones)
    comfort_noise: int = 0               #: CN packets (payload type 13), taken as silence
    dropped_ms: float = 0.0              #: audio before the call's origin (early media), not imported
    early_digits: int = 0                #: digits before the call's origin, not imported

    def totals(self) -> dict[str, object]:
        segs = self.segments
        return {
            "packets": sum(len(s.packets) for s in segs),
            "expected": sum(s.expected for s in segs),
            "lost": sum(s.lost for s in segs),
            "loss_pct": round(100.0 * sum(s.lost for s in segs) / max(1, sum(s.expected for s in segs)), 3),
            "duplicates": sum(s.duplicates for s in segs),
            "reordered": sum(s.reordered for s in segs),
            "discarded": sum(s.discarded for s in segs),
            "jitter_ms": round(max((s.jitter_ms for s in segs), default=0.0), 3),
            "gaps": sum(len(s.gaps) for s in segs),
            "lost_ms": round(sum(g.duration_ms for s in segs for g in s.gaps if g.kind == "lost"), 3),
            "silence_ms": round(sum(g.duration_ms for s in segs for g in s.gaps if g.kind == "silence"), 3),
            "event_ms": round(sum(g.duration_ms for s in segs for g in s.gaps if g.kind == "event"), 3),
            "segments": len(segs),
            "digits": "".join(d.digit for d in self.digits),
            "comfort_noise_packets": self.comfort_noise,
            "early_media_dropped_ms": round(self.dropped_ms, 3),
        }


@cache
def g711_table(law: str) -> npt.NDArray[np.int16]:
    """The 256 codes of A-law (``"PCMA"``) or mu-law (``"PCMU"``) decoded by libsndfile."""
    subtype = {"PCMA": "ALAW", "PCMU": "ULAW"}[law]
    table, _ = soundfile.read(io.BytesIO(bytes(range(256))), format="RAW", subtype=subtype, samplerate=RATE,
                              channels=1, dtype="int16")
    table = np.ascontiguousarray(table, dtype=np.int16)
    table.setflags(write=False)
    return table


def _signed(x: int, bits: int) -> int:
    half = 1 << (bits - 1)
    return ((x + half) & ((1 << bits) - 1)) - half


@dataclass
class _Track:
    """Where one SSRC stands: its current segment and the highest packet seen in it."""

    segment: Segment
    eseq: int
    ets: int
    time: float


def _segments(packets: Iterable[RtpPacket]) -> list[Segment]:
    """Packets (in arrival order) cut into segments, each with unwrapped seq and timestamps."""
    segments: list[Segment] = []
    tracks: dict[int, _Track] = {}
    for p in packets:
        track = tracks.get(p.ssrc)
        reason = None
        if track is None:
            reason = "first" if not segments else "ssrc change"
        elif p.marker and abs(_signed(p.ts - track.ets, 32) - (p.time - track.time) * RATE) > RATE:
            reason = "marker restart"
        elif not ((p.seq - track.eseq) & 0xFFFF < _MAX_DROPOUT or (p.seq - track.eseq) & 0xFFFF > 0x10000 - _MAX_MISORDER):
            reason = "sequence jump"
        if reason is not None or track is None:
            seg = Segment(ssrc=p.ssrc, reason=reason or "first")
            segments.append(seg)
            track = tracks[p.ssrc] = _Track(seg, p.seq, p.ts, p.time)
            seg.packets.append((p.seq, p.ts, p))
            continue
        seg = track.segment
        eseq = track.eseq + _signed(p.seq - track.eseq, 16)
        ets = track.ets + _signed(p.ts - track.ets, 32)
        seg.seq_wrapped |= eseq >> 16 != track.eseq >> 16
        seg.ts_wrapped |= ets >> 32 != track.ets >> 32
        seg.packets.append((eseq, ets, p))
        if eseq > track.eseq:  # the highest sequence number is the reference; a late packet does not move it
            track.eseq, track.ets, track.time = eseq, ets, p.time
    return segments


def reassemble(packets: Iterable[RtpPacket], codec: Callable[[int, int], str], *, origin: float) -> Stream:
    """The stream's audio and digits on the call's timeline (tick 0 = ``origin``, seconds).

    ``codec(pt, size)`` names a packet's codec: ``"PCMA"``, ``"PCMU"``, ``"telephone-event"``,
    ``"CN"``, or raises `CodecError`.
    """
    segments = _segments(packets)
    pieces: list[tuple[int, npt.NDArray[np.int16]]] = []
    digits: dict[tuple[int, int, int], _Event] = {}
    other_events = cn = 0
    for index, seg in enumerate(segments):
        first: dict[int, tuple[int, RtpPacket]] = {}
        highest = None
        for eseq, ets, p in seg.packets:
            if eseq in first:
                seg.duplicates += 1
                continue
            if highest is not None and eseq < highest:
                seg.reordered += 1
            highest = eseq if highest is None else max(highest, eseq)
            first[eseq] = (ets, p)
        _drop_outliers(seg, first)
        order = sorted(first)
        seg.expected = order[-1] - order[0] + 1
        seg.lost = seg.expected - len(order)
        seg.base_ts = min(ets for ets, _ in first.values())
        offset = min(p.time - origin - (ets - seg.base_ts) / RATE for ets, p in first.values())
        seg.start_tick = round(offset * RATE)
        seg.max_transit_ms = 1000 * max(p.time - origin - (ets - seg.base_ts) / RATE - offset
                                        for ets, p in first.values())
        seg.payload_types = tuple(sorted({p.pt for _, p in first.values()}))
        # interarrival jitter in arrival order (RFC 3550 6.4.1), audio packets only
        jitter, prev_transit = 0.0, None
        for eseq, ets, p in seg.packets:
            if eseq not in first or first[eseq][1] is not p or codec(p.pt, len(p.payload)) not in ("PCMA", "PCMU"):
                continue
            transit = p.time * RATE - ets
            if prev_transit is not None:
                jitter += (abs(transit - prev_transit) - jitter) / 16
            prev_transit = transit
        seg.jitter_ms = jitter / 8
        # audio by timestamp, gaps between consecutive packets in sequence order
        prev: tuple[int, int, int, int] | None = None  # (ext seq, ext ts, samples, position in order)
        events_at = -1                                  # position in order of the last event packet
        for pos, eseq in enumerate(order):
            ets, p = first[eseq]
            kind = codec(p.pt, len(p.payload))
            if kind == "telephone-event":
                other_events += _event(digits, index, seg, ets, p)
                events_at = pos
                continue
            if kind == "CN":
                cn += 1
                continue
            at = seg.start_tick + ets - seg.base_ts
            x = g711_table(kind)[np.frombuffer(p.payload, dtype=np.uint8)]
            pieces.append((at, x))
            seg.audio_samples += x.size
            if prev is not None and ets > prev[1] + prev[2]:
                gap_at = seg.start_tick + prev[1] + prev[2] - seg.base_ts
                missing = (eseq - prev[0]) - (pos - prev[3])   # sequence numbers never received
                kind = "lost" if missing else "event" if events_at > prev[3] else "silence"
                seg.gaps.append(Gap(gap_at / 8, (ets - prev[1] - prev[2]) / 8, kind))
            prev = (eseq, ets, x.size, pos)
    samples, start, dropped = _place(pieces)
    found = [Digit(EVENT_DIGITS[code], tick, e.duration // 8, e.packets, e.ended)
             for (_, tick, code), e in sorted(digits.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    stream = Stream(samples, start, segments, [d for d in found if d.at_tick >= 0], other_events, cn, dropped / 8)
    stream.early_digits = len(found) - len(stream.digits)
    return stream


def _drop_outliers(seg: Segment, first: dict[int, tuple[int, RtpPacket]]) -> None:
    """Take out packets whose timestamp disagrees with their arrival by more than
    ``_MAX_SKEW`` seconds against the segment's median (a corrupt or foreign packet: it would
    otherwise become the anchor, or stretch the timeline by hours). Counted in ``discarded``."""
    transit = {k: p.time - ets / RATE for k, (ets, p) in first.items()}
    median = float(np.median(list(transit.values())))
    for k, t in transit.items():
        if abs(t - median) > _MAX_SKEW and len(first) > 1:
            del first[k]
            seg.discarded += 1


@dataclass
class _Event:
    """One RFC 4733 event while its packets are counted."""

    duration: int = 0
    packets: int = 0
    ended: bool = False


def _event(digits: dict[tuple[int, int, int], _Event], index: int, seg: Segment, ets: int,
           p: RtpPacket) -> int:
    """Count one telephone-event packet; returns 1 for an event that is not a DTMF digit."""
    if len(p.payload) < 4:
        return 1
    code, flags, duration = p.payload[0], p.payload[1], int.from_bytes(p.payload[2:4], "big")
    if code >= len(EVENT_DIGITS):
        return 1
    key = (index, seg.start_tick + ets - seg.base_ts, code)
    entry = digits.setdefault(key, _Event())
    entry.duration = max(entry.duration, duration)
    entry.packets += 1
    entry.ended = entry.ended or bool(flags & 0x80)
    # retransmitted packets of the same event (end included) arrive as duplicates of one
    # sequence number only when resent verbatim; most senders give each a new one, so the
    # count is per packet and the digit is per key
    return 0


def _place(pieces: list[tuple[int, npt.NDArray[np.int16]]]) -> tuple[npt.NDArray[np.int16], int, int]:
    """Pieces of audio at call-timeline ticks put into one array; what falls before tick 0 is
    dropped (its length is returned). Later pieces overwrite earlier ones where they overlap."""
    if not pieces:
        return np.zeros(0, np.int16), 0, 0
    dropped = sum(min(x.size, -at) for at, x in pieces if at < 0)
    kept = [(max(at, 0), x[max(0, -at):]) for at, x in pieces if at + x.size > 0]
    if not kept:
        return np.zeros(0, np.int16), 0, dropped
    start = min(at for at, _ in kept)
    end = max(at + x.size for at, x in kept)
    out = np.zeros(end - start, np.int16)
    for at, x in kept:
        out[at - start : at - start + x.size] = x
    return out, start, dropped
