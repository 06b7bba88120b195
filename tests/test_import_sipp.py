"""A real call, captured for real, imported and replayed: SIPp on the loopback interface.

SIPp (Debian's ``sip-tester``) places one call from a UAC to a UAS on 127.0.0.1; after the ACK
the UAC plays an RTP capture we generate (``play_pcap_audio``: a known A-law WAV, 2 s, then the
RFC 4733 digits 1, 5 and #, in one SSRC); ``tcpdump`` captures the loopback interface. The
capture is imported with ``callsim import``, the scenario is run with the reference recorder,
and the recording is checked against the WAV that was streamed: aligned within one packet
(20 ms) of where the capture says the audio began after the answer, and equal to it (SNR), and
the digits against those sent. Everything has a timeout; ports are found free at run time.
"""

from __future__ import annotations

import io
import os
import selectors
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import dpkt
import numpy as np
import pytest
import soundfile

from callsim.cli import main
from recorder import FileRecorder
from simulator.runner import run_scenario
from simulator.scenario import load_scenario
from tests.pcapgen import Call, chirp, write_capture

HERE = Path(__file__).resolve().parent / "sipp"
DIGITS = [(2.2, "1", 0.1), (2.5, "5", 0.1), (2.8, "#", 0.1)]   # seconds into the stream, digit, length


def _free_udp_ports(n: int, *, step: int = 1) -> list[int]:
    """``n`` distinct UDP ports on 127.0.0.1 that are free now, each with ``step - 1`` free
    neighbours above it (SIPp's media port uses the port and the one two above it)."""
    found: list[int] = []
    while len(found) < n:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port % 2 or port + 3 > 65535 or any(abs(port - p) < 4 for p in found):
            continue
        try:
            socks = []
            for p in range(port, port + step):
                t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(t)
                t.bind(("127.0.0.1", p))
            found.append(port)
        except OSError:
            pass
        finally:
            for t in socks:
                t.close()
    return found


def _start_tcpdump(out: Path, ports: list[int]) -> subprocess.Popen[bytes]:
    """tcpdump on lo, started and listening (or a skip saying why it cannot capture)."""
    expr = "udp and (" + " or ".join(f"port {p}" for p in ports) + ")"
    argv = [shutil.which("tcpdump") or "tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-w", str(out), expr]
    if os.geteuid() == 0:
        argv[1:1] = ["-Z", "root"]  # keep root so it may write into the test's folder
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    said = b""
    while b"listening on" not in said:
        if not sel.select(timeout=10) or proc.poll() is not None:
            proc.kill()
            rest = proc.stderr.read() if proc.poll() is not None else b""
            msg = (said + rest).decode(errors="replace").strip()
            if "permission" in msg.lower() or "operation not permitted" in msg.lower():
                pytest.skip(f"capture not permitted here: {msg}")
            raise AssertionError(f"tcpdump did not start: {msg}")
        said += os.read(proc.stderr.fileno(), 4096)
    return proc


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _capture_times(path: Path, media_port: int) -> tuple[float, float]:
    """From the capture itself (dpkt, not the importer): the 200 OK answering the INVITE and
    the first RTP packet to the UAS's media port."""
    answer = first_rtp = None
    with path.open("rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            udp = dpkt.ethernet.Ethernet(buf).data.data
            data = bytes(udp.data)
            if answer is None and data.startswith(b"SIP/2.0 200") and b"INVITE" in data.split(b"\r\n\r\n")[0]:
                answer = float(ts)
            if first_rtp is None and udp.dport == media_port and len(data) == 172:
                first_rtp = float(ts)
    assert answer is not None and first_rtp is not None
    return answer, first_rtp


@pytest.mark.tools
@pytest.mark.skipif(shutil.which("sipp") is None, reason="SIPp (Debian sip-tester) is not installed")
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_sipp_call_on_loopback_imports_and_replays(tmp_path: Path) -> None:
    audio = chirp(2.0, level=9000.0)
    streamed = tmp_path / "streamed.wav"
    soundfile.write(streamed, audio, 8000, subtype="ALAW")            # the known A-law WAV
    sent, _ = soundfile.read(streamed, dtype="int16")
    call = Call(audio, digits=DIGITS, media_s=0.0, t0=1000.0)         # its RTP (and the digits), one SSRC
    write_capture(tmp_path / "stream.pcap", [(p.time, p.bytes(), p.src, p.dst) for p in call.rtp])
    for name in ("uac.xml", "uas.xml"):
        shutil.copy(HERE / name, tmp_path / name)

    sip_uac, sip_uas, rtp_uac, rtp_uas = _free_udp_ports(4, step=4)
    cap = tmp_path / "call.pcap"
    tcpdump = _start_tcpdump(cap, [sip_uac, sip_uas, rtp_uac, rtp_uac + 2, rtp_uas, rtp_uas + 2])
    common = ["-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error", "-trace_err"]
    uas = subprocess.Popen(["sipp", "-sf", "uas.xml", "-p", str(sip_uas), "-mp", str(rtp_uas), *common],
                           cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        uac = subprocess.run(["sipp", f"127.0.0.1:{sip_uas}", "-sf", "uac.xml", "-p", str(sip_uac),
                              "-mp", str(rtp_uac), *common], cwd=tmp_path, capture_output=True, timeout=40)
        assert uac.returncode == 0, uac.stderr.decode(errors="replace")[-2000:]
        assert uas.wait(timeout=30) == 0
    finally:
        _stop(uas, signal.SIGKILL)
        _stop(tcpdump)

    out = tmp_path / "imported.toml"
    assert main(["import", str(cap), "-o", str(out)]) == 0
    scenario = load_scenario(out)
    answer, first_rtp = _capture_times(cap, rtp_uas)
    start = round((first_rtp - answer) * 8000)                        # where the audio begins, ticks

    # the call: answered at 0, hung up by the UAC's BYE (about 3.5 s after the ACK)
    assert scenario.call.state == "ANSWERED" and scenario.call.hangup_ms is not None
    assert 3400 <= scenario.call.hangup_ms <= 10_000                 # (a loaded machine may send it late)
    assert "(BYE from the caller)" in out.read_text()
    # the digits: one each, in order, onsets within one packet of when they were sent
    dtmf = [a for a in scenario.audio if a.kind == "dtmf"]
    assert [a.get("digits") for a in dtmf] == [d for _, d, _ in DIGITS]
    assert all(a.get("out_of_band") for a in dtmf)
    for a, (at, _, _) in zip(dtmf, DIGITS):
        assert abs(a.at_ms * 8 - (start + round(at * 8000))) <= 160

    # the replay: the reference recorder records the whole call; the streamed WAV is in it
    result = run_scenario(scenario, FileRecorder)
    rec, rate = soundfile.read(io.BytesIO(result.contents["recording.wav"]), dtype="int16")
    assert rate == 8000 and rec.size >= start + sent.size
    corr = np.correlate(rec[: start + sent.size + 1600].astype(np.float64), sent.astype(np.float64), "valid")
    lag = int(np.argmax(corr))
    assert abs(lag - start) <= 160, (lag, start)                      # aligned within one packet
    seg = rec[lag : lag + sent.size].astype(np.float64)
    noise = np.sum((seg - sent) ** 2)
    snr = 10 * np.log10(np.sum(sent.astype(np.float64) ** 2) / max(noise, 1.0))
    print(f"lag {lag} ticks (capture says {start}), SNR {snr:.1f} dB")
    assert snr >= 40, snr                                             # A-law in, A-law out: the same codes
