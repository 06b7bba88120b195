"""``callsim import`` on generated captures (tests/pcapgen.py, built with dpkt): audio placed by
RTP timestamp through loss, reordering, duplicates, jitter, wraps, a marker restart and an SSRC
change; digits, hold and hangup from the signalling; several calls; no RTP; the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from callsim.cli import main
from callsim.importer.rtp import g711_table
from conformance.decoders import ALAW_TABLE, ULAW_TABLE
from simulator.runner import run_scenario
from simulator.scenario import load_scenario
from tests.pcapgen import Call, Packet, chirp, decode, encode, sdp, write_capture

AUDIO = chirp(1.0)
MEDIA_TICK = 160                 # the first packet leaves 20 ms after the answer (pcapgen defaults)


def run_import(tmp_path: Path, call: Call | list, *args: str, fmt: str = "pcap", link: int = 1,
               name: str = "call") -> tuple[int, Path, dict]:
    frames = call.frames() if isinstance(call, Call) else call
    cap = write_capture(tmp_path / f"{name}.{fmt}", frames, fmt=fmt, link=link)
    out = tmp_path / f"{name}.toml"
    report = tmp_path / f"{name}.json"
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["import", str(cap), "-o", str(out), "--json", *args])
    doc = json.loads(buf.getvalue()) if rc == 0 else {}
    report.write_text(buf.getvalue())
    return rc, out, doc


def imported_audio(out: Path) -> np.ndarray:
    """The far end's audio on the call's timeline (ticks from 0), as the scenario places it."""
    scenario = load_scenario(out)
    items = [a for a in scenario.audio if a.kind == "file"]
    if not items:
        return np.zeros(0, np.int16)
    x, rate = soundfile.read(items[0].get("path"), dtype="int16")
    assert rate == 8000
    return np.concatenate([np.zeros(items[0].at_ms * 8, np.int16), x])


def expected(audio: np.ndarray = AUDIO, law: str = "PCMA", start: int = MEDIA_TICK) -> np.ndarray:
    return np.concatenate([np.zeros(start, np.int16), decode(encode(audio, law), law)])


def test_g711_tables_are_the_suites_independent_ones() -> None:
    """The importer decodes through libsndfile; the suite's own decoder agrees on all 256 codes."""
    assert np.array_equal(g711_table("PCMA"), ALAW_TABLE)
    assert np.array_equal(g711_table("PCMU"), ULAW_TABLE)


@pytest.mark.parametrize("fmt,link", [("pcap", 1), ("pcapng", 1), ("pcap", 101), ("pcap", 113), ("pcapng", 276)])
def test_clean_call_is_exact(tmp_path: Path, fmt: str, link: int) -> None:
    call = Call(AUDIO, digits=[(1.1, "5", 0.1), (1.4, "#", 0.06)], holds=[(0.8, "sendonly"), (1.2, "sendrecv")])
    rc, out, doc = run_import(tmp_path, call, fmt=fmt, link=link)
    assert rc == 0
    assert np.array_equal(imported_audio(out), expected())
    s = load_scenario(out)
    assert s.call.state == "ANSWERED"
    assert [(c.at_ms, c.state) for c in s.call.changes] == [(300, "ON_HOLD"), (700, "ANSWERED")]
    dtmf = [(a.at_ms, a.get("digits"), a.get("tone_ms")) for a in s.audio if a.kind == "dtmf"]
    assert dtmf == [(20 + 1100, "5", 100), (20 + 1400, "#", 60)]
    # the end-of-event packet goes three times and counts once
    assert [d["digit"] for d in doc["digits"]] == ["5", "#"] and doc["digits"][0]["packets"] == 7
    last = max(p.time for p in call.rtp)
    assert s.call.hangup_ms == round((last + 0.2 - call.t0 - call.answer_s) * 1000)
    assert doc["stream"]["lost"] == doc["stream"]["duplicates"] == doc["stream"]["reordered"] == 0
    head = out.read_text().split("\n\n", 1)[0]
    assert f"{fmt}" in head and "Call-ID call-1@192.0.2.10" in head and "SSRC 0x11223344" in head


def test_loss_is_silence_and_reported(tmp_path: Path) -> None:
    call = Call(AUDIO)
    lost = {5, 6, 20}
    call.rtp = [p for i, p in enumerate(call.rtp) if i not in lost]
    rc, out, doc = run_import(tmp_path, call)
    want = expected()
    for i in lost:
        want[MEDIA_TICK + 160 * i : MEDIA_TICK + 160 * (i + 1)] = 0
    assert rc == 0 and np.array_equal(imported_audio(out), want)
    assert doc["stream"]["lost"] == 3 and doc["stream"]["expected"] == 50
    assert [(g["at_ms"], g["duration_ms"], g["kind"]) for g in doc["gaps"]] == [
        (20 + 100, 40, "lost"), (20 + 400, 20, "lost")]


def test_reordering_duplicates_and_jitter_are_undone(tmp_path: Path) -> None:
    call = Call(AUDIO)
    rng = np.random.default_rng(7)
    pk = call.rtp
    for p in pk[1:]:  # up to 35 ms of network delay: arrival order changes, RTP time does not
        p.time += float(rng.uniform(0, 0.035))
    dups = [Packet(**{**vars(pk[k]), "time": pk[k].time + 0.003}) for k in (3, 10, 10)]
    call.rtp = sorted(pk + dups, key=lambda p: p.time)
    rc, out, doc = run_import(tmp_path, call)
    assert rc == 0 and np.array_equal(imported_audio(out), expected())
    st = doc["stream"]
    assert st["duplicates"] == 3 and st["reordered"] > 0 and st["lost"] == 0 and st["jitter_ms"] > 1


def test_sequence_and_timestamp_wrap(tmp_path: Path) -> None:
    call = Call(AUDIO, seq0=65530, ts0=(1 << 32) - 1600)
    rc, out, doc = run_import(tmp_path, call)
    assert rc == 0 and np.array_equal(imported_audio(out), expected())
    seg = doc["segments"]
    assert len(seg) == 1 and seg[0]["sequence_wrapped"] and seg[0]["timestamp_wrapped"] and seg[0]["lost"] == 0


def test_marker_restart_starts_a_new_segment(tmp_path: Path) -> None:
    """Halfway, the sender restarts its clock (new sequence and timestamp bases, marker set):
    the second half is anchored anew and lands where it was sent."""
    call = Call(AUDIO)
    for i, p in enumerate(call.rtp[25:]):
        p.ts, p.marker = 7_000_000 + 160 * i, i == 0
    rc, out, doc = run_import(tmp_path, call)
    assert rc == 0 and np.array_equal(imported_audio(out), expected())
    assert [s["begins"] for s in doc["segments"]] == ["first", "marker restart"]


def test_sequence_jump_starts_a_new_segment(tmp_path: Path) -> None:
    call = Call(AUDIO)
    for i, p in enumerate(call.rtp[25:]):
        p.seq, p.ts = 40000 + i, 7_000_000 + 160 * i
    rc, out, doc = run_import(tmp_path, call)
    assert rc == 0 and np.array_equal(imported_audio(out), expected())
    assert [s["begins"] for s in doc["segments"]] == ["first", "sequence jump"]


def test_ssrc_change_starts_a_new_segment(tmp_path: Path) -> None:
    call = Call(AUDIO)
    for i, p in enumerate(call.rtp[30:]):
        p.ssrc, p.seq, p.ts = 0xCAFE, 9 + i, 123 + 160 * i
    rc, out, doc = run_import(tmp_path, call)
    assert rc == 0 and np.array_equal(imported_audio(out), expected())
    assert [(s["ssrc"], s["begins"]) for s in doc["segments"]] == [("0x11223344", "first"), ("0x0000cafe", "ssrc change")]


def test_silence_suppression_is_a_silence_gap(tmp_path: Path) -> None:
    call = Call(AUDIO)
    call.rtp = [p for i, p in enumerate(call.rtp) if not 10 <= i < 20]
    for p in call.rtp[10:]:
        p.seq -= 10                       # consecutive sequence numbers: nothing was lost
    call.rtp[10].marker = True            # a new talkspurt
    rc, out, doc = run_import(tmp_path, call)
    want = expected()
    want[MEDIA_TICK + 1600 : MEDIA_TICK + 3200] = 0
    assert rc == 0 and np.array_equal(imported_audio(out), want)
    assert doc["stream"]["lost"] == 0 and [(g["kind"], g["duration_ms"]) for g in doc["gaps"]] == [("silence", 200)]
    assert len(doc["segments"]) == 1


def test_mu_law_with_a_dynamic_payload_type(tmp_path: Path) -> None:
    answer = sdp("198.51.100.20", 50000, pts=(96, 101), rtpmap=("96 PCMU/8000", "101 telephone-event/8000"))
    call = Call(AUDIO, law="PCMU", pt=96, answer=answer)
    rc, out, doc = run_import(tmp_path, call)
    assert rc == 0 and np.array_equal(imported_audio(out), expected(law="PCMU"))
    assert doc["stream"]["codecs"] == ["PCMU"]


def test_two_calls_need_call_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = Call(AUDIO, call_id="first@x")
    b = Call(chirp(0.5, level=3000.0), call_id="second@x", t0=a.t0 + 5, ssrc=0x99,
             caller=("192.0.2.11", 5060, 41000), callee=("198.51.100.20", 5060, 50002))
    frames = a.frames() + b.frames()
    rc, _, _ = run_import(tmp_path, frames)
    err = capsys.readouterr().err
    assert rc == 2 and "2 calls" in err and "'first@x'" in err and "'second@x'" in err and "--call-id" in err
    rc, out, doc = run_import(tmp_path, frames, "--call-id", "second@x", name="second")
    assert rc == 0 and doc["call_id"] == "second@x"
    assert np.array_equal(imported_audio(out), expected(chirp(0.5, level=3000.0)))
    rc, _, _ = run_import(tmp_path, frames, "--call-id", "third@x", name="third")
    assert rc == 2 and "no call with Call-ID 'third@x'" in capsys.readouterr().err


def test_no_rtp_is_a_call_without_audio(tmp_path: Path) -> None:
    call = Call(AUDIO, bye_s=3.0)
    call.rtp = []
    rc, out, doc = run_import(tmp_path, call)
    s = load_scenario(out)
    assert rc == 0 and not s.audio and s.call.hangup_ms == 2500
    assert not out.with_suffix(".wav").exists() and "no RTP from the far end" in " ".join(doc["warnings"])


def test_rtp_and_ssrc_without_signalling(tmp_path: Path) -> None:
    call = Call(AUDIO, digits=[(1.1, "7", 0.1)])
    frames = [(p.time, p.bytes(), p.src, p.dst) for p in call.rtp]
    rc, out, doc = run_import(tmp_path, frames, "--rtp", "198.51.100.20:50000")
    assert rc == 0 and np.array_equal(imported_audio(out), expected(start=0))
    assert doc["call_id"] is None and doc["digits"][0]["digit"] == "7"
    rc, out2, _ = run_import(tmp_path, frames, "--ssrc", "0x11223344", name="by-ssrc")
    assert rc == 0 and np.array_equal(imported_audio(out2), expected(start=0))


def test_the_far_end_can_be_the_callee(tmp_path: Path) -> None:
    call = Call(AUDIO)
    for p in call.rtp:
        p.src, p.dst = p.dst, p.src
    rc, out, _ = run_import(tmp_path, call)
    assert rc == 0 and not imported_audio(out).size          # nothing from the caller
    rc, out, _ = run_import(tmp_path, call, "--far-end", "callee", name="callee")
    assert rc == 0 and np.array_equal(imported_audio(out), expected())


def test_same_capture_same_bytes(tmp_path: Path) -> None:
    call = Call(AUDIO, digits=[(1.1, "5", 0.1)])
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    run_import(a, call)
    run_import(b, call)
    for suffix in (".toml", ".wav"):
        assert (a / f"call{suffix}").read_bytes() == (b / f"call{suffix}").read_bytes()


def test_replay_records_the_imported_audio(tmp_path: Path) -> None:
    """The written scenario replays: the reference recorder's file holds the far end's audio."""
    from recorder import FileRecorder

    call = Call(AUDIO, digits=[(1.1, "5", 0.1)])
    rc, out, _ = run_import(tmp_path, call)
    result = run_scenario(load_scenario(out), FileRecorder)
    assert result.final["cause"] == "HANGUP"
    import io
    rec, _ = soundfile.read(io.BytesIO(result.contents["recording.wav"]), dtype="int16")
    want = decode(encode(expected()))     # recorded as A-law: digital zero comes back as +-8
    assert np.array_equal(rec[: want.size], want)


def test_sip_over_tcp_split_across_segments(tmp_path: Path) -> None:
    """SIP over TCP: each connection's segments are joined (a retransmitted one taken once),
    so an INVITE split in two and a 200 sharing a segment with nothing else both parse."""
    call = Call(AUDIO)
    frames, seqs = [], {}
    for t, payload, src, dst in call.frames():
        if not payload.startswith((b"INVITE", b"SIP/2.0", b"ACK", b"BYE")):
            frames.append((t, payload, src, dst))
            continue
        key = (src, dst)
        seq = seqs.setdefault(key, 1000)
        parts = [payload[:50], payload[50:]] if payload.startswith(b"INVITE") else [payload]
        for k, part in enumerate(parts):
            frames.append((t + 0.0001 * k, part, src, dst, seq))
            if k == 0:
                frames.append((t + 0.00005, part, src, dst, seq))      # retransmitted
            seq += len(part)
        seqs[key] = seq
    rc, out, doc = run_import(tmp_path, frames)
    assert rc == 0 and doc["call_id"] == "call-1@192.0.2.10"
    assert np.array_equal(imported_audio(out), expected())
    assert doc["call"]["hangup_from"] == "BYE from the caller"


def test_the_other_commands_work_without_the_import_extra(tmp_path: Path) -> None:
    """Without dpkt, `callsim import` says which extra to install (exit 2); the rest of the
    command line is unaffected."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['dpkt'] = None\n"
            "from callsim.cli import build_parser, main\n"
            "assert build_parser().parse_args(['run', 'x.toml']).scenario == 'x.toml'\n"
            "sys.exit(main(['import', 'x.pcap', '-o', 'x.toml']))\n")
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and 'pip install "callsim[import]"' in r.stderr and "Traceback" not in r.stderr


def test_ipv6_with_an_sdp_address_written_long(tmp_path: Path) -> None:
    caller, callee = ("2001:db8::10", 5060, 40000), ("2001:db8::20", 5060, 50000)
    call = Call(AUDIO, caller=caller, callee=callee, answer=sdp("2001:0DB8:0:0::20", 50000))
    rc, out, doc = run_import(tmp_path, call)
    assert rc == 0 and np.array_equal(imported_audio(out), expected())
    assert doc["stream"]["endpoints"] == ["to [2001:db8::20]:50000"]


def test_rtp_header_extension_padding_and_csrc_are_stripped() -> None:
    import dpkt

    from callsim.importer.capture import Datagram
    from callsim.importer.rtp import parse_rtp

    payload = bytes(range(160))
    r = dpkt.rtp.RTP(seq=7, ts=99, ssrc=5)
    r.version, r.pt, r.x, r.p, r.cc = 2, 8, 1, 1, 1
    ext = b"\xbe\xde\x00\x01" + b"\x10\xaa\x00\x00"          # profile, 1 word of extension
    r.csrc = b"\x00\x00\x00\x09"
    r.data = ext + payload + b"\x00\x00\x03"                  # 3 bytes of padding
    p = parse_rtp(Datagram(0, 0.0, "udp", "a", 1, "b", 2, bytes(r)))
    assert p is not None and (p.seq, p.ts, p.ssrc, p.pt) == (7, 99, 5, 8) and p.payload == payload
    rtcp = bytes([0x80, 200]) + b"\x00" * 26
    assert parse_rtp(Datagram(0, 0.0, "udp", "a", 1, "b", 2, rtcp)) is None


def test_inactive_holds_and_a_later_offer_resumes(tmp_path: Path) -> None:
    call = Call(AUDIO, holds=[(0.7, "inactive"), (0.9, "inactive"), (1.1, None)])   # None: no direction line
    rc, out, _ = run_import(tmp_path, call)
    s = load_scenario(out)
    assert rc == 0 and [(c.at_ms, c.state) for c in s.call.changes] == [(200, "ON_HOLD"), (600, "ANSWERED")]
