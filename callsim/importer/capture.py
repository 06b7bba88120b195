"""Reading a packet capture (pcap or pcapng) into UDP and TCP payloads, with dpkt.

dpkt does the parsing: its ``pcap.Reader`` and ``pcapng.Reader`` read the file formats, its
``ethernet``, ``loopback``, ``sll``, ``sll2``, ``ip`` and ``ip6`` classes the link and network
layers. What is ours is only the guard around them: the file is read through `_Guarded`, which
turns a short read (a capture cut in the middle of a record, or a corrupt length field pointing
past the end) into a `CaptureError`, because dpkt's readers hand back a short record silently.

Out of scope, reported rather than guessed: IP fragments (counted in ``Capture.fragments``; a
SIP message or RTP packet split across fragments is not reassembled) and, in a pcapng file with
several interfaces, link types other than the first interface's.
"""

from __future__ import annotations

import io
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from struct import error as struct_error

import dpkt

__all__ = ["CaptureError", "Capture", "Datagram", "read_capture", "LINK_TYPES"]

#: pcap magic numbers (both byte orders, micro- and nanosecond) and the pcapng section header.
_PCAP_MAGICS = {bytes.fromhex(m) for m in ("a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1")}
_PCAPNG_MAGIC = bytes.fromhex("0a0d0d0a")

#: Link types we decode (LINKTYPE_* numbers) and their names.
LINK_TYPES = {0: "NULL", 1: "ETHERNET", 12: "RAW", 14: "RAW", 101: "RAW", 108: "LOOP",
              113: "LINUX_SLL", 228: "IPV4", 229: "IPV6", 276: "LINUX_SLL2"}


class CaptureError(ValueError):
    """The input cannot be imported; the message is one line that says why (exit status 2)."""


class _Truncated(Exception):
    pass


class _Guarded(io.RawIOBase):
    """A read-only file whose reads are all-or-nothing: a read that returns some but not all
    of the bytes asked for, nothing where a record's body should be, or a negative length (a
    corrupt length field), raises."""

    def __init__(self, f: io.BufferedReader, header: int) -> None:
        self._f = f
        self._header = header  # the record-header size: the one read that may meet the end
        self._size = os.fstat(f.fileno()).st_size
        self._pos = f.tell()

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        if n is None or n < 0:
            raise _Truncated("a record length is corrupt")
        left = self._size - self._pos
        if 0 < left < n:  # never ask for more than is there (a corrupt length could be gigabytes)
            raise _Truncated(f"the file ends inside a record ({left} of {n} bytes)")
        got = self._f.read(n)
        self._pos += len(got)
        if not got and n > 0 and n != self._header and self._pos > 24:
            raise _Truncated(f"the file ends after a record header (0 of {n} bytes)")
        if 0 < len(got) < n:
            raise _Truncated(f"the file ends inside a record ({len(got)} of {n} bytes)")
        return got

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = self._f.seek(offset, whence)
        return self._pos

    def tell(self) -> int:
        return self._pos


@dataclass(frozen=True, slots=True)
class Datagram:
    """One UDP datagram or TCP segment's payload, with the capture time in seconds."""

    index: int          #: the packet's position in the capture (0-based)
    time: float         #: capture timestamp, seconds
    proto: str          #: "udp" or "tcp"
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes
    seq: int = 0        #: TCP sequence number (0 for UDP)


@dataclass
class Capture:
    """What `read_capture` found: the datagrams and a few counts for the report."""

    path: str
    format: str                 #: "pcap" or "pcapng"
    link_type: int
    packets: int = 0            #: records in the file
    datagrams: list[Datagram] = field(default_factory=list)
    fragments: int = 0          #: IP fragments (not reassembled)
    other: int = 0              #: records that are not IP/UDP/TCP

    @property
    def link_name(self) -> str:
        return LINK_TYPES.get(self.link_type, str(self.link_type))


def _network(link: int, buf: bytes) -> dpkt.Packet | None:
    """The IP or IPv6 packet inside one link-layer record (None if it holds neither)."""
    if link == 1:
        pkt = dpkt.ethernet.Ethernet(buf).data
    elif link in (0, 108):
        pkt = dpkt.loopback.Loopback(buf).data
    elif link == 113:
        pkt = dpkt.sll.SLL(buf).data
    elif link == 276:
        pkt = dpkt.sll2.SLL2(buf).data
    else:  # raw IP: the version nibble says which
        if not buf:
            return None
        pkt = dpkt.ip.IP(buf) if buf[0] >> 4 == 4 else dpkt.ip6.IP6(buf) if buf[0] >> 4 == 6 else None
    return pkt if isinstance(pkt, (dpkt.ip.IP, dpkt.ip6.IP6)) else None


def _address(pkt: dpkt.Packet) -> tuple[str, str]:
    family = socket.AF_INET if isinstance(pkt, dpkt.ip.IP) else socket.AF_INET6
    return socket.inet_ntop(family, pkt.src), socket.inet_ntop(family, pkt.dst)


def read_capture(path: str | Path) -> Capture:
    """Every UDP and TCP payload of a pcap or pcapng file, in capture order.

    Raises `CaptureError` (one line) for a file that cannot be read, is not a capture, is cut
    short or corrupt, or has a link type we do not decode.
    """
    p = Path(path)
    try:
        f = p.open("rb")
    except OSError as exc:
        raise CaptureError(f"{p}: cannot read: {exc.strerror or exc}") from None
    with f:
        magic = f.read(4)
        f.seek(0)
        if magic in _PCAP_MAGICS:
            fmt = "pcap"
        elif magic == _PCAPNG_MAGIC:
            fmt = "pcapng"
        else:
            raise CaptureError(f"{p}: not a packet capture (no pcap or pcapng header; first bytes {magic.hex() or 'none'})")
        cap = Capture(path=str(p), format=fmt, link_type=-1)
        try:
            reader = dpkt.pcap.Reader(_Guarded(f, 16)) if fmt == "pcap" else dpkt.pcapng.Reader(_Guarded(f, 8))
            cap.link_type = link = reader.datalink()
            if link not in LINK_TYPES:
                raise CaptureError(f"{p}: unsupported link type {link} (callsim import reads "
                                   f"{', '.join(sorted(set(LINK_TYPES.values())))})")
            for ts, buf in reader:
                _add(cap, link, float(ts), bytes(buf))
        except _Truncated as exc:
            raise CaptureError(f"{p}: truncated or corrupt {fmt} capture: {exc}, after "
                               f"{cap.packets} complete packets") from None
        except CaptureError:
            raise
        except (dpkt.UnpackError, ValueError, struct_error, OverflowError, MemoryError) as exc:
            raise CaptureError(f"{p}: corrupt {fmt} capture: {_one_line(exc)}") from None
    return cap


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _add(cap: Capture, link: int, ts: float, buf: bytes) -> None:
    index = cap.packets
    cap.packets += 1
    try:
        pkt = _network(link, buf)
    except (dpkt.UnpackError, struct_error, ValueError, IndexError):
        pkt = None
    if pkt is None:
        cap.other += 1
        return
    if isinstance(pkt, dpkt.ip.IP) and (pkt.mf or pkt.offset):
        cap.fragments += 1
        return
    seg = pkt.data
    if isinstance(seg, dpkt.udp.UDP):
        proto, seq = "udp", 0
    elif isinstance(seg, dpkt.tcp.TCP):
        proto, seq = "tcp", seg.seq
    else:
        cap.other += 1
        return
    src, dst = _address(pkt)
    cap.datagrams.append(Datagram(index, ts, proto, src, seg.sport, dst, seg.dport, bytes(seg.data), seq))

