"""SIP dialogs and their SDP offers and answers, from a capture's datagrams.

dpkt parses the SIP messages (``dpkt.sip.Request`` / ``Response``: start line, headers, body by
Content-Length, the rest of a TCP stream left in ``.data``). dpkt has no SDP parser, and SDP is
a line format (``c=``, ``m=``, ``a=``): `parse_sdp` reads the few lines the import needs.

A call is the messages sharing a Call-ID. Its *caller* sent the first INVITE (its From tag is
the caller's tag); every later message is attributed to the caller or the callee by that tag
(a request from the caller carries the caller's From tag; a response carries the From tag of
the request it answers). Each party's SDP says where that party receives media, so the far
end's RTP is the stream sent *to* the near party's SDP address and port.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import dpkt

from .capture import Datagram

__all__ = ["Sdp", "SipMessage", "Call", "parse_sdp", "find_calls", "sip_messages"]

_METHODS = (b"INVITE", b"ACK", b"BYE", b"CANCEL", b"OPTIONS", b"REGISTER", b"PRACK", b"UPDATE", b"INFO",
            b"REFER", b"NOTIFY", b"SUBSCRIBE", b"MESSAGE", b"PUBLISH")
#: SIP's compact header names (RFC 3261 section 7.3.3) and their long forms.
_COMPACT = {"i": "call-id", "f": "from", "t": "to", "l": "content-length", "c": "content-type", "m": "contact",
            "v": "via"}
#: Directions that put the other party on hold when offered (RFC 3264 section 8.4).
HOLD_DIRECTIONS = ("sendonly", "inactive")


@dataclass(frozen=True)
class Sdp:
    """The parts of an SDP body the import uses (audio: the first ``m=audio`` line)."""

    address: str | None          #: connection address (media-level c= over session-level)
    port: int | None             #: the audio port (0: the stream is refused)
    proto: str                   #: RTP/AVP, RTP/SAVP, ...
    formats: tuple[int, ...]     #: payload types offered
    rtpmap: tuple[tuple[int, str, int], ...]   #: (payload type, encoding name, clock rate)
    direction: str               #: sendrecv, sendonly, recvonly or inactive
    crypto: bool                 #: a=crypto or a=fingerprint (SRTP / DTLS-SRTP)

    @property
    def secure(self) -> bool:
        return self.crypto or "SAVP" in self.proto.upper() or "TLS" in self.proto.upper()

    def codec(self, pt: int) -> tuple[str, int] | None:
        """(encoding name, clock rate) of a payload type: a=rtpmap first, then the static types."""
        for n, name, rate in self.rtpmap:
            if n == pt:
                return name, rate
        return STATIC_TYPES.get(pt)


#: The static payload types of RFC 3551 section 6 that a capture may carry (audio).
STATIC_TYPES: dict[int, tuple[str, int]] = {
    0: ("PCMU", 8000), 3: ("GSM", 8000), 4: ("G723", 8000), 5: ("DVI4", 8000), 6: ("DVI4", 16000),
    7: ("LPC", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000), 10: ("L16", 44100), 11: ("L16", 44100),
    12: ("QCELP", 8000), 13: ("CN", 8000), 14: ("MPA", 90000), 15: ("G728", 8000), 16: ("DVI4", 11025),
    17: ("DVI4", 22050), 18: ("G729", 8000),
}


@dataclass
class _Media:
    """One ``m=`` section while it is read."""

    parts: list[str]
    rtpmap: list[tuple[int, str, int]] = field(default_factory=list)
    direction: str | None = None
    address: str | None = None


def parse_sdp(body: bytes) -> Sdp | None:
    """The audio description of an SDP body (None if it has no ``v=`` line or no audio)."""
    text = body.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.replace("\r", "\n").split("\n")]
    lines = [ln for ln in lines if len(ln) > 1 and ln[1] == "="]
    if not any(ln.startswith("v=") for ln in lines):
        return None
    session_addr: str | None = None
    session_dir = "sendrecv"
    crypto = False
    media: list[_Media] = []
    for ln in lines:
        key, value = ln[0], ln[2:].strip()
        cur = media[-1] if media else None
        if key == "m":
            media.append(_Media(value.split()))
        elif key == "c":
            words = value.split()
            addr = words[2].split("/")[0] if len(words) >= 3 else None
            if cur is None:
                session_addr = addr
            else:
                cur.address = addr
        elif key == "a":
            name, _, arg = value.partition(":")
            if name in ("sendrecv", "sendonly", "recvonly", "inactive"):
                if cur is None:
                    session_dir = name
                else:
                    cur.direction = name
            elif name in ("crypto", "fingerprint"):
                crypto = True
            elif name == "rtpmap" and cur is not None:
                pt, _, enc = arg.partition(" ")
                enc_parts = enc.strip().split("/")
                try:
                    cur.rtpmap.append((int(pt), enc_parts[0], int(enc_parts[1]) if len(enc_parts) > 1 else 8000))
                except ValueError:
                    continue
    audio = next((m for m in media if m.parts and m.parts[0] == "audio"), None)
    if audio is None:
        return None
    parts = audio.parts
    try:
        port = int(parts[1].split("/")[0]) if len(parts) > 1 else None
    except ValueError:
        port = None
    return Sdp(address=audio.address or session_addr, port=port, proto=parts[2] if len(parts) > 2 else "",
               formats=tuple(int(f) for f in parts[3:] if f.isdigit()), rtpmap=tuple(audio.rtpmap),
               direction=audio.direction or session_dir, crypto=crypto)


@dataclass(frozen=True)
class SipMessage:
    """One SIP request or response seen in the capture."""

    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    method: str                 #: the request's method, or the method of the CSeq a response answers
    status: int | None          #: None for a request
    call_id: str
    from_tag: str
    to_tag: str
    cseq: int
    sdp: Sdp | None
    from_uri: str
    to_uri: str

    @property
    def is_request(self) -> bool:
        return self.status is None


def _header(headers: dict[str, object], name: str) -> str:
    value = headers.get(name)
    if value is None:
        for short, long in _COMPACT.items():
            if long == name and short in headers:
                value = headers[short]
                break
    if isinstance(value, list):
        value = value[0]
    return str(value or "")


def _tag(value: str) -> str:
    for param in value.split(";")[1:]:
        k, _, v = param.strip().partition("=")
        if k.lower() == "tag":
            return v.strip()
    return ""


def _uri(value: str) -> str:
    if "<" in value and ">" in value:
        return value[value.index("<") + 1 : value.index(">")]
    return value.split(";")[0].strip()


def _message(d: Datagram, raw: bytes) -> tuple[SipMessage | None, bytes]:
    """One SIP message parsed from the start of ``raw`` and the bytes after it."""
    try:
        if raw.startswith(b"SIP/2.0 "):
            msg: dpkt.Packet = dpkt.sip.Response(raw)
            status: int | None = int(msg.status)
        else:
            msg = dpkt.sip.Request(raw)
            status = None
    except (dpkt.UnpackError, ValueError, IndexError, UnicodeError):
        return None, b""
    headers = {str(k).lower(): v for k, v in msg.headers.items()}
    headers.update({_COMPACT[k]: v for k, v in headers.items() if k in _COMPACT and _COMPACT[k] not in headers})
    cseq_parts = _header(headers, "cseq").split()
    try:
        cseq = int(cseq_parts[0]) if cseq_parts else 0
    except ValueError:
        cseq = 0
    method = msg.method if status is None else (cseq_parts[1].upper() if len(cseq_parts) > 1 else "")
    ctype = _header(headers, "content-type").lower()
    body = bytes(msg.body or b"")
    sdp = parse_sdp(body) if body and ("sdp" in ctype or not ctype) else None
    frm, to = _header(headers, "from"), _header(headers, "to")
    m = SipMessage(time=d.time, src=(d.src, d.sport), dst=(d.dst, d.dport), method=str(method), status=status,
                   call_id=_header(headers, "call-id").strip(), from_tag=_tag(frm), to_tag=_tag(to), cseq=cseq,
                   sdp=sdp, from_uri=_uri(frm), to_uri=_uri(to))
    return m, bytes(msg.data or b"")


_SIP_START = re.compile(rb"SIP/2\.0 |(?:" + b"|".join(_METHODS) + rb") ")


def _looks_sip(payload: bytes) -> bool:
    """A SIP start line begins the payload (one regex: this runs on every datagram)."""
    return _SIP_START.match(payload) is not None


def sip_messages(datagrams: Iterable[Datagram]) -> list[SipMessage]:
    """Every SIP message: one per UDP datagram, and the messages of each TCP stream (segments
    joined in capture order, a retransmitted sequence number taken once)."""
    out: list[SipMessage] = []
    streams: dict[tuple[str, int, str, int], bytearray] = defaultdict(bytearray)
    seen: dict[tuple[str, int, str, int], set[int]] = defaultdict(set)
    for d in datagrams:
        if not d.payload:
            continue
        if d.proto == "udp":
            if _looks_sip(d.payload):
                m, _ = _message(d, d.payload)
                if m is not None and m.call_id:
                    out.append(m)
            continue
        key = (d.src, d.sport, d.dst, d.dport)
        if d.seq in seen[key]:
            continue
        seen[key].add(d.seq)
        buf = streams[key]
        buf += d.payload
        while buf and _looks_sip(bytes(buf[:16])):
            m, rest = _message(d, bytes(buf))
            if m is None or not _complete(bytes(buf), rest):
                break
            if m.call_id:
                out.append(m)
            del buf[: len(buf) - len(rest)]
        if buf and not _looks_sip(bytes(buf[:16])):
            buf.clear()  # not SIP (or lost sync): drop it
    return out


def _complete(buf: bytes, rest: bytes) -> bool:
    """True when the message at the start of ``buf`` has its whole body (its Content-Length)."""
    head, sep, _ = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            try:
                return len(buf) - len(rest) >= len(head) + 4 + int(value.strip())
            except ValueError:
                return True
    return True


@dataclass
class Call:
    """One call (a Call-ID) and what the import needs from it."""

    call_id: str
    messages: list[SipMessage] = field(default_factory=list)

    @property
    def invite(self) -> SipMessage | None:
        return next((m for m in self.messages if m.is_request and m.method == "INVITE"), None)

    @property
    def caller_tag(self) -> str:
        inv = self.invite
        return inv.from_tag if inv else ""

    @property
    def caller(self) -> tuple[str, int] | None:
        inv = self.invite
        return inv.src if inv else None

    @property
    def callee(self) -> tuple[str, int] | None:
        inv = self.invite
        return inv.dst if inv else None

    def from_caller(self, m: SipMessage) -> bool:
        """Whether the caller sent ``m`` (by the From tag; see the module's docstring)."""
        return (m.from_tag == self.caller_tag) == m.is_request

    @property
    def answered(self) -> SipMessage | None:
        """The first 2xx to the call's first INVITE (its CSeq)."""
        inv = self.invite
        if inv is None:
            return None
        return next((m for m in self.messages if m.status is not None and 200 <= m.status < 300
                     and m.method == "INVITE" and m.cseq == inv.cseq), None)

    @property
    def bye(self) -> SipMessage | None:
        return next((m for m in self.messages if m.is_request and m.method in ("BYE", "CANCEL")), None)

    @property
    def start(self) -> float:
        return self.messages[0].time

    @property
    def end(self) -> float:
        return self.messages[-1].time

    def sdps(self, *, caller: bool) -> list[tuple[SipMessage, Sdp]]:
        """The SDP bodies one party sent, in capture order."""
        return [(m, m.sdp) for m in self.messages if m.sdp is not None and self.from_caller(m) == caller]

    def offers(self) -> list[tuple[SipMessage, Sdp]]:
        """The SDP offers: bodies of INVITE and UPDATE requests (RFC 3264 offer/answer), and of
        a 2xx to an INVITE without a body (a late offer)."""
        out: list[tuple[SipMessage, Sdp]] = []
        bodiless = {m.cseq for m in self.messages if m.is_request and m.method == "INVITE" and m.sdp is None}
        for m in self.messages:
            if m.sdp is None:
                continue
            if m.is_request and m.method in ("INVITE", "UPDATE"):
                out.append((m, m.sdp))
            elif not m.is_request and m.method == "INVITE" and m.cseq in bodiless and m.status and 200 <= m.status < 300:
                out.append((m, m.sdp))
        return out

    def summary(self) -> str:
        inv = self.invite
        who = f"{inv.from_uri} -> {inv.to_uri}" if inv else "(no INVITE)"
        return f"{self.call_id}  {who}  ({len(self.messages)} messages)"


def find_calls(messages: Sequence[SipMessage]) -> list[Call]:
    """The calls (Call-IDs with an INVITE), in the order their first message was captured."""
    calls: dict[str, Call] = {}
    for m in messages:
        calls.setdefault(m.call_id, Call(m.call_id)).messages.append(m)
    return [c for c in calls.values() if c.invite is not None]
