"""Synthetic captures of SIP calls, built with dpkt, for the import tests and the benchmark.

A `Call` is laid out on a 20 ms grid: the far end's audio (A-law or mu-law, encoded by
libsndfile through soundfile) and its RFC 4733 digits become RTP packets, the SIP messages
(INVITE with SDP, 100, 200 with SDP, ACK, optional re-INVITEs for hold and resume, BYE) come
around them. Before the packets are written, `Call.rtp` can be edited to lose, reorder,
duplicate or delay packets; `write_capture` writes the frames (Ethernet/IPv4/UDP, or another
link type) as pcap or pcapng.
"""

from __future__ import annotations

import io
import socket
from dataclasses import dataclass, field
from pathlib import Path

import dpkt
import numpy as np
import soundfile

CALLER = ("192.0.2.10", 5060, 40000)     # ip, sip port, rtp port
CALLEE = ("198.51.100.20", 5060, 50000)
EVENTS = "0123456789*#ABCD"


def encode(samples: np.ndarray, law: str = "PCMA") -> bytes:
    """int16 samples as G.711 bytes (libsndfile's encoder)."""
    buf = io.BytesIO()
    soundfile.write(buf, np.asarray(samples, np.int16), 8000, format="RAW",
                    subtype={"PCMA": "ALAW", "PCMU": "ULAW"}[law])
    return buf.getvalue()


def decode(data: bytes, law: str = "PCMA") -> np.ndarray:
    x, _ = soundfile.read(io.BytesIO(data), format="RAW", subtype={"PCMA": "ALAW", "PCMU": "ULAW"}[law],
                          samplerate=8000, channels=1, dtype="int16")
    return x


def sdp(ip: str, port: int, *, pts: tuple[int, ...] = (8, 101), rtpmap: tuple[str, ...] = (
        "8 PCMA/8000", "101 telephone-event/8000"), direction: str | None = None, proto: str = "RTP/AVP",
        crypto: bool = False) -> bytes:
    fam = "IP6" if ":" in ip else "IP4"
    lines = ["v=0", f"o=- 1 1 IN {fam} {ip}", "s=-", f"c=IN {fam} {ip}", "t=0 0",
             f"m=audio {port} {proto} {' '.join(map(str, pts))}"]
    lines += [f"a=rtpmap:{m}" for m in rtpmap]
    if direction:
        lines.append(f"a={direction}")
    if crypto:
        lines.append("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")
    return ("\r\n".join(lines) + "\r\n").encode()


def sip(start: str, call_id: str, *, from_tag: str, to_tag: str = "", cseq: str, body: bytes = b"",
        frm: str = "sip:alice@192.0.2.10", to: str = "sip:ivr@198.51.100.20") -> bytes:
    head = [start, "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK" + call_id[:8], f"From: <{frm}>;tag={from_tag}",
            f"To: <{to}>" + (f";tag={to_tag}" if to_tag else ""), f"Call-ID: {call_id}", f"CSeq: {cseq}",
            "Max-Forwards: 70"]
    if body:
        head.append("Content-Type: application/sdp")
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def rtp_bytes(seq: int, ts: int, ssrc: int, pt: int, payload: bytes, marker: bool = False) -> bytes:
    r = dpkt.rtp.RTP(seq=seq & 0xFFFF, ts=ts & 0xFFFFFFFF, ssrc=ssrc)
    r.version, r.pt, r.m = 2, pt, int(marker)
    r.data = payload
    return bytes(r)


def event_payload(digit: str, duration: int, end: bool, volume: int = 10) -> bytes:
    return bytes([EVENTS.index(digit), (0x80 if end else 0) | volume]) + duration.to_bytes(2, "big")


@dataclass
class Packet:
    """One RTP packet to write (fields editable before writing)."""

    time: float
    seq: int
    ts: int
    ssrc: int
    pt: int
    payload: bytes
    marker: bool = False
    src: tuple[str, int] = (CALLER[0], CALLER[2])
    dst: tuple[str, int] = (CALLEE[0], CALLEE[2])

    def bytes(self) -> bytes:
        return rtp_bytes(self.seq, self.ts, self.ssrc, self.pt, self.payload, self.marker)


@dataclass
class Call:
    """One call: SIP around the caller's RTP. Times are seconds from ``t0``."""

    audio: np.ndarray
    call_id: str = "call-1@192.0.2.10"
    t0: float = 1_700_000_000.0
    answer_s: float = 0.5           #: the 200 OK, after the INVITE at 0
    media_s: float = 0.52           #: the first RTP packet
    bye_s: float | None = None      #: default: 0.2 s after the last packet
    law: str = "PCMA"
    pt: int = 8
    event_pt: int = 101
    ssrc: int = 0x11223344
    seq0: int = 1000
    ts0: int = 160_000
    digits: list[tuple[float, str, float]] = field(default_factory=list)   #: (seconds into the media, digit, seconds)
    holds: list[tuple[float, str]] = field(default_factory=list)           #: (seconds from t0, a=direction)
    caller: tuple[str, int, int] = CALLER
    callee: tuple[str, int, int] = CALLEE
    offer: bytes | None = None
    answer: bytes | None = None
    rtp: list[Packet] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.rtp:
            self.rtp = self._packets()

    def _packets(self) -> list[Packet]:
        payload = encode(self.audio, self.law)
        slots = -(-len(payload) // 160)
        events: dict[int, tuple[str, int]] = {}
        for at, digit, dur in self.digits:
            first, n = round(at / 0.02), max(1, round(dur / 0.02))
            for k in range(n):
                events[first + k] = (digit, first)
            slots = max(slots, first + n + 2)
        out: list[Packet] = []
        seq = self.seq0
        src, dst = (self.caller[0], self.caller[2]), (self.callee[0], self.callee[2])
        for i in range(slots):
            t = self.t0 + self.media_s + 0.02 * i
            if i in events:
                digit, first = events[i]
                dur = 160 * (i - first + 1)
                last = events.get(i + 1, (None, -1))[1] != first
                for r in range(3 if last else 1):
                    out.append(Packet(t + 0.001 * r, seq, self.ts0 + 160 * first, self.ssrc, self.event_pt,
                                      event_payload(digit, dur, last), i == first, src, dst))
                    seq += 1
                continue
            chunk = payload[160 * i : 160 * (i + 1)]
            if not chunk:
                continue
            out.append(Packet(t, seq, self.ts0 + 160 * i, self.ssrc, self.pt, chunk, i == 0, src, dst))
            seq += 1
        return out

    def frames(self) -> list[tuple[float, bytes, tuple[str, int], tuple[str, int]]]:
        """(time, UDP payload, src, dst) of every datagram, in time order."""
        a, b = self.caller, self.callee
        ftag, ttag = "caller-tag", "callee-tag"
        offer = self.offer if self.offer is not None else sdp(a[0], a[2])
        answer = self.answer if self.answer is not None else sdp(b[0], b[2])
        ruri = f"INVITE sip:ivr@{b[0]} SIP/2.0"
        t0, cid = self.t0, self.call_id
        sip_a, sip_b = (a[0], a[1]), (b[0], b[1])
        msgs = [
            (t0, sip(ruri, cid, from_tag=ftag, cseq="1 INVITE", body=offer), sip_a, sip_b),
            (t0 + 0.01, sip("SIP/2.0 100 Trying", cid, from_tag=ftag, cseq="1 INVITE"), sip_b, sip_a),
            (t0 + self.answer_s, sip("SIP/2.0 200 OK", cid, from_tag=ftag, to_tag=ttag, cseq="1 INVITE", body=answer),
             sip_b, sip_a),
            (t0 + self.answer_s + 0.005, sip(f"ACK sip:ivr@{b[0]} SIP/2.0", cid, from_tag=ftag, to_tag=ttag,
                                             cseq="1 ACK"), sip_a, sip_b),
        ]
        for n, (at, direction) in enumerate(self.holds, start=2):
            body = sdp(b[0], b[2], direction=direction)
            msgs.append((t0 + at, sip(f"INVITE sip:alice@{a[0]} SIP/2.0", cid, from_tag=ttag, to_tag=ftag,
                                      cseq=f"{n} INVITE", body=body, frm="sip:ivr@198.51.100.20",
                                      to="sip:alice@192.0.2.10"), sip_b, sip_a))
            msgs.append((t0 + at + 0.01, sip("SIP/2.0 200 OK", cid, from_tag=ttag, to_tag=ftag, cseq=f"{n} INVITE",
                                             body=sdp(a[0], a[2]), frm="sip:ivr@198.51.100.20",
                                             to="sip:alice@192.0.2.10"), sip_a, sip_b))
        last = max((p.time for p in self.rtp), default=t0 + self.answer_s)
        bye = t0 + self.bye_s if self.bye_s is not None else last + 0.2
        if self.bye_s != -1:
            msgs.append((bye, sip(f"BYE sip:ivr@{b[0]} SIP/2.0", cid, from_tag=ftag, to_tag=ttag, cseq="9 BYE"),
                         sip_a, sip_b))
            msgs.append((bye + 0.01, sip("SIP/2.0 200 OK", cid, from_tag=ftag, to_tag=ttag, cseq="9 BYE"), sip_b, sip_a))
        media = [(p.time, p.bytes(), p.src, p.dst) for p in self.rtp]
        return sorted(msgs + media, key=lambda f: f[0])


def frame(payload: bytes, src: tuple[str, int], dst: tuple[str, int], link: int = 1, tcp_seq: int | None = None) -> bytes:
    """A UDP datagram (or, with ``tcp_seq``, a TCP segment) as one link-layer record (1:
    Ethernet, 101: raw IP, 113 and 276: Linux cooked v1 and v2, as ``tcpdump -i any`` writes)."""
    if tcp_seq is not None:
        udp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=tcp_seq, flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH,
                           data=payload)
        proto = dpkt.ip.IP_PROTO_TCP
    else:
        udp = dpkt.udp.UDP(sport=src[1], dport=dst[1], data=payload)
        udp.ulen = len(udp)
        proto = dpkt.ip.IP_PROTO_UDP
    if ":" in src[0]:
        ip = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src[0]), dst=socket.inet_pton(socket.AF_INET6, dst[0]),
                          nxt=proto, hlim=64, data=udp)
        ip.plen = len(udp)
        if link == 1:
            return bytes(dpkt.ethernet.Ethernet(src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02",
                                                type=dpkt.ethernet.ETH_TYPE_IP6, data=ip))
        return bytes(ip)
    ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=proto, data=udp)
    ip.len = len(ip)
    if link == 101:
        return bytes(ip)
    if link == 113:
        return bytes(dpkt.sll.SLL(type=0, hrd=772, hlen=6, ethtype=dpkt.ethernet.ETH_TYPE_IP, data=ip))
    if link == 276:
        return bytes(dpkt.sll2.SLL2(ethtype=dpkt.ethernet.ETH_TYPE_IP, intindex=1, hrd=772, data=ip))
    return bytes(dpkt.ethernet.Ethernet(src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02",
                                        type=dpkt.ethernet.ETH_TYPE_IP, data=ip))


def write_capture(path: str | Path, datagrams: list[tuple[float, bytes, tuple[str, int], tuple[str, int]]], *,
                  fmt: str = "pcap", link: int = 1) -> Path:
    path = Path(path)
    with path.open("wb") as f:
        w = dpkt.pcap.Writer(f, linktype=link) if fmt == "pcap" else dpkt.pcapng.Writer(f, linktype=link)
        for t, payload, src, dst, *tcp in sorted(datagrams, key=lambda d: d[0]):
            w.writepkt(frame(payload, src, dst, link, *tcp), ts=t)
    return path


def tone(seconds: float, freq: float = 440.0, level: float = 8000.0) -> np.ndarray:
    n = round(seconds * 8000)
    return np.round(level * np.sin(2 * np.pi * freq * np.arange(n) / 8000)).astype(np.int16)


def chirp(seconds: float, level: float = 8000.0) -> np.ndarray:
    """A rising sweep 300 -> 3000 Hz: no two 20 ms packets look alike, so misplacement shows."""
    n = round(seconds * 8000)
    t = np.arange(n) / 8000
    f0, f1 = 300.0, 3000.0
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds))
    return np.round(level * np.sin(phase)).astype(np.int16)


def customer_call() -> Call:
    """The README's walk-through capture: a caller speaks, presses 1 and #, is put on hold by
    the application for 1.5 s, speaks again and hangs up; the network lost, delayed,
    duplicated and reordered a few packets on the way."""
    clips = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
    first, _ = soundfile.read(clips / "speech_en_f3.wav", dtype="int16")
    second, _ = soundfile.read(clips / "speech_en.wav", dtype="int16")
    timeline = np.zeros(8000 * 12, np.int16)          # 12 s of the caller's side, from the first packet
    timeline[2400 : 2400 + first.size] = first        # speaks at 0.3 s
    timeline[8000 * 7 + 2400 : 8000 * 7 + 2400 + second.size] = second[: 8000 * 12 - 8000 * 7 - 2400]
    call = Call(timeline, call_id="a84b4c76e66710@pbx.example.com", digits=[(5.0, "1", 0.12), (5.4, "#", 0.1)],
                holds=[(0.52 + 6.0, "sendonly"), (0.52 + 7.5, "sendrecv")], ssrc=0x5EED1234, seq0=61000,
                ts0=0xFFFF0000)
    rng = np.random.default_rng(2026)
    kept = []
    seq = call.seq0
    for i, p in enumerate(call.rtp):
        if 6.0 <= p.time - call.t0 - call.media_s < 7.5:
            continue                                  # on hold: the caller sends nothing (and numbers nothing)
        p.seq, seq = seq, seq + 1
        if i in (40, 41, 233, 388):
            continue                                  # lost
        p.time += float(rng.gamma(2.0, 0.004))        # network delay, 8 ms on average
        kept.append(p)
        if i in (100, 300):
            kept.append(Packet(**{**vars(p), "time": p.time + 0.002}))   # duplicated
    call.rtp = kept
    return call


if __name__ == "__main__":  # python3 -m tests.pcapgen fixtures/captures/customer-call.pcapng
    import sys

    write_capture(sys.argv[1], customer_call().frames(), fmt="pcapng")
