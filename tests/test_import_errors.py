"""``callsim import`` on bad input: one clear line on stderr, exit status 2, no traceback, and
nothing written. Ends with a hypothesis property: generated captures, then corrupted ones, give
a scenario or such an error, never anything else."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callsim.cli import main
from simulator.scenario import load_scenario
from tests.pcapgen import Call, chirp, sdp, write_capture

ROOT = Path(__file__).resolve().parents[1]
AUDIO = chirp(0.4)


def imp(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(["import", *argv])
        except SystemExit as exc:  # argparse's usage errors
            rc = int(exc.code or 0)
    return rc, out.getvalue(), err.getvalue()


def good_capture(tmp_path: Path, **kw: object) -> Path:
    return write_capture(tmp_path / "good.pcap", Call(AUDIO, **kw).frames())  # type: ignore[arg-type]


def assert_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("callsim import: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out" / "s.toml"


def test_not_a_capture(tmp_path: Path, out: Path) -> None:
    out.parent.mkdir()
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not a pcap\n")
    assert_error(*imp(str(bad), "-o", str(out))[::2], "not a packet capture")
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    assert_error(*imp(str(empty), "-o", str(out))[::2], "not a packet capture")
    assert_error(*imp(str(tmp_path / "missing.pcap"), "-o", str(out))[::2], "cannot read")
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_truncated_capture(tmp_path: Path, out: Path, fmt: str) -> None:
    out.parent.mkdir()
    cap = write_capture(tmp_path / f"c.{fmt}", Call(AUDIO).frames(), fmt=fmt)
    data = cap.read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(data[:-37])
    assert_error(*imp(str(cut), "-o", str(out))[::2], "truncated or corrupt", "complete packets")
    if fmt == "pcap":  # cut right after the last record's header
        import dpkt
        last = len(dpkt.ethernet.Ethernet(list(dpkt.pcap.Reader(io.BytesIO(data)))[-1][1]))
        cut.write_bytes(data[:-last])
        assert_error(*imp(str(cut), "-o", str(out))[::2], "after a record header")
    assert list(out.parent.iterdir()) == []


def test_no_sip_and_no_rtp_option(tmp_path: Path, out: Path) -> None:
    out.parent.mkdir()
    call = Call(AUDIO)
    cap = write_capture(tmp_path / "media.pcap", [(p.time, p.bytes(), p.src, p.dst) for p in call.rtp])
    assert_error(*imp(str(cap), "-o", str(out))[::2], "no SIP call", "--rtp HOST:PORT")
    assert_error(*imp(str(cap), "-o", str(out), "--rtp", "10.9.9.9:4000")[::2], "no UDP packet to or from 10.9.9.9:4000")


def test_srtp(tmp_path: Path, out: Path) -> None:
    out.parent.mkdir()
    offer = sdp("192.0.2.10", 40000, proto="RTP/SAVP", crypto=True)
    answer = sdp("198.51.100.20", 50000, proto="RTP/SAVP", crypto=True)
    cap = good_capture(tmp_path, offer=offer, answer=answer)
    assert_error(*imp(str(cap), "-o", str(out))[::2], "SRTP", "RTP/SAVP")


def test_unsupported_codec_is_named(tmp_path: Path, out: Path) -> None:
    out.parent.mkdir()
    answer = sdp("198.51.100.20", 50000, pts=(18,), rtpmap=("18 G729/8000",))
    cap = good_capture(tmp_path, answer=answer, pt=18)
    assert_error(*imp(str(cap), "-o", str(out))[::2], "unsupported codec G729/8000 (payload type 18)")
    answer = sdp("198.51.100.20", 50000, pts=(111,), rtpmap=("111 opus/48000/2",))
    cap = good_capture(tmp_path, answer=answer, pt=111)
    assert_error(*imp(str(cap), "-o", str(out))[::2], "unsupported codec opus/48000 (payload type 111)")


def test_never_answered(tmp_path: Path, out: Path) -> None:
    out.parent.mkdir()
    call = Call(AUDIO)
    frames = [f for f in call.frames() if b"SIP/2.0 200 OK" not in f[1] or b"BYE" in f[1]]
    cap = write_capture(tmp_path / "unanswered.pcap", frames)
    assert_error(*imp(str(cap), "-o", str(out))[::2], "never answered")


def test_output_exists_or_is_unusable(tmp_path: Path, out: Path) -> None:
    cap = good_capture(tmp_path)
    assert_error(*imp(str(cap), "-o", str(out))[::2], "does not exist")           # no such folder
    out.parent.mkdir()
    assert_error(*imp(str(cap), "-o", str(out.with_suffix(".txt")))[::2], "must end in .toml")
    (out.parent / "d.toml").mkdir()
    assert_error(*imp(str(cap), "-o", str(out.parent / "d.toml"))[::2], "it is a folder")
    assert imp(str(cap), "-o", str(out))[0] == 0
    before = out.read_bytes(), out.with_suffix(".wav").read_bytes()
    assert_error(*imp(str(cap), "-o", str(out))[::2], "already exists", "--force")
    out.with_suffix(".wav").unlink()
    assert_error(*imp(str(cap), "-o", str(out))[::2], "already exists")            # the scenario alone
    assert imp(str(cap), "-o", str(out), "--force")[0] == 0
    assert (out.read_bytes(), out.with_suffix(".wav").read_bytes()) == before
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert_error(*imp(str(cap), "-o", str(ro / "s.toml"))[::2], "not writable")


def test_bad_options_are_usage_errors(tmp_path: Path, out: Path) -> None:
    cap = good_capture(tmp_path)
    for bad in (["--rtp", "nohost"], ["--rtp", "1.2.3.4:99999"], ["--ssrc", "xyz"], ["--ssrc", str(1 << 32)]):
        rc, _, err = imp(str(cap), "-o", str(out), *bad)
        assert rc == 2 and "Traceback" not in err and bad[0] in err


def test_from_the_shell_no_traceback(tmp_path: Path) -> None:
    """The real command (a new process): exit 2 and one line."""
    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 10)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "callsim", "import", str(bad), "-o", str(tmp_path / "s.toml")],
                       capture_output=True, text=True, env=env, timeout=60)
    assert_error(r.returncode, r.stderr, "x.pcap")


# -- the property ----------------------------------------------------------------------------

@st.composite
def captures(draw: st.DrawFn) -> tuple[list, str]:
    """A generated call, its packets lost, duplicated, delayed and re-stamped at random."""
    n = draw(st.integers(1, 30))
    audio = chirp(n * 0.02, level=draw(st.sampled_from([100.0, 8000.0, 30000.0])))
    digits = draw(st.lists(st.tuples(st.floats(0, 1), st.sampled_from("0123456789*#ABCD"), st.floats(0.02, 0.2)),
                           max_size=2))
    call = Call(audio, digits=sorted(digits), seq0=draw(st.integers(0, 65535)), ts0=draw(st.integers(0, (1 << 32) - 1)),
                holds=draw(st.lists(st.tuples(st.floats(0.6, 1.2), st.sampled_from(["sendonly", "inactive", "sendrecv"])),
                                    max_size=2)))
    pk = call.rtp
    edits = draw(st.lists(st.tuples(st.sampled_from(["drop", "dup", "delay", "ssrc", "marker", "ts"]),
                                    st.integers(0, max(0, len(pk) - 1)), st.integers(0, 1 << 32)), max_size=6))
    for op, i, v in edits:
        if not pk:
            break
        i %= len(pk)
        if op == "drop":
            pk.pop(i)
        elif op == "dup":
            pk.append(pk[i])
        elif op == "delay":
            pk[i].time += (v % 1000) / 10000
        elif op == "ssrc":
            pk[i].ssrc = v & 0xFFFFFFFF
        elif op == "marker":
            pk[i].marker = True
        else:
            pk[i].ts = v & 0xFFFFFFFF
    return call.frames(), draw(st.sampled_from(["pcap", "pcapng"]))


@settings(max_examples=int(os.environ.get("CALLSIM_IMPORT_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cap=captures(), corrupt=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=4),
       cut=st.one_of(st.none(), st.integers(0, 1 << 20)))
def test_generated_and_corrupted_captures_give_a_scenario_or_a_clear_error(
        tmp_path: Path, cap: tuple[list, str], corrupt: list[tuple[int, int]], cut: int | None) -> None:
    frames, fmt = cap
    path = write_capture(tmp_path / f"p.{fmt}", frames, fmt=fmt)
    data = bytearray(path.read_bytes())
    for pos, byte in corrupt:
        data[pos % len(data)] = byte
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path.write_bytes(bytes(data))
    out = tmp_path / "s.toml"
    rc, _, err = imp(str(path), "-o", str(out), "--force")
    if rc == 0:
        scenario = load_scenario(out)
        assert scenario.call.hangup_ms is not None
        wav = [a for a in scenario.audio if a.kind == "file"]
        if wav:
            import soundfile
            x, _ = soundfile.read(wav[0].get("path"), dtype="int16")
            assert x.size <= 8000 * 60 and np.all(np.isfinite(x))
    else:
        assert_error(rc, err)
