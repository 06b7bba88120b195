"""Security (SD-NAME, SD-ARGS, SD-CIPHER).

* Path traversal and absolute names are rejected before anything is written: through the API
  (memory and directory stores, nothing created inside or outside the root), through the store
  itself, and through ``callsim run`` with a scenario file (``--out`` gets nothing).
* With a cipher, no plaintext byte reaches the store, on success (silence, stop, hangup,
  barge-in, timeout, size) or on any failure path (write fault, out of space, commit failure):
  every ``write``/``patch`` call is captured and must hold no RIFF/WAVE/fmt/data/fact marker and
  no 16-byte block of the plaintext; what was written (or attempted) decrypts to a valid WAV, and
  ``openssl enc -d`` decrypts the published file to the same WAV.
* The key and IV never appear in the event log, ``callsim run --json``/``--log`` output,
  exception messages, or ``repr``/``str`` of the recorder, channel, cipher, job parameters or
  store writer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.decoders import decode_wav
from conformance.wavread import validate_wav
from recorder import Cause, Cipher, FileRecorder, State
from recorder.cipher import CipherError
from simulator import ArgumentError, CallChannel, CallState, Clock
from simulator.audio import Dtmf, Timeline, Tone
from simulator.store import FaultPlan, InvalidNameError, MediaStore, StoreWriter

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
    128: "2b7e151628aed2a6abf7158809cf4f3c",
    192: "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
    256: "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
}
IV = "000102030405060708090a0b0c0d0e0f"
MARKERS = (b"RIFF", b"WAVE", b"fmt ", b"data", b"fact")

TRAVERSAL = ["../evil.wav", "../../evil.wav", "a/../../evil.wav", "..", "../", "a/..", "./evil.wav",
             "a/./b.wav", "//evil.wav", "/evil.wav", "/tmp/evil.wav", "/etc/passwd", "evil/",
             "..\\evil.wav", "%2e%2e/evil.wav", "a\x00/../evil.wav", "~/evil.wav", "C:/evil.wav"]


def secrets(key: str, iv: str = IV) -> list[str]:
    """Every spelling of the key material that must never show."""
    out = []
    for s in (key, iv):
        out += [s, s.upper(), s[:16], s[-16:]]
    return out


def assert_no_secret(text: str, key: str, where: str) -> None:
    for s in secrets(key):
        assert s not in text, f"key material ({len(s)} hex digits) found in {where}"
    raw = bytes.fromhex(key)
    assert raw.decode("latin-1") not in text, f"raw key bytes in {where}"


# -- path traversal ---------------------------------------------------------------------------------
def _tree(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


@pytest.mark.parametrize("name", TRAVERSAL + ["ABS"])
def test_traversal_rejected_before_anything_is_written(name: str, tmp_path: Path) -> None:
    """SD-NAME: traversal and absolute names raise ArgumentError; nothing appears on disk."""
    if name == "ABS":
        name = str(tmp_path / "evil.wav")  # an absolute path that would be writable
    root = tmp_path / "box" / "store"
    clock = Clock()
    store = MediaStore(root, clock=lambda: clock.now)
    ch = CallChannel(clock, recorder_factory=FileRecorder, store=store, audio=Timeline((Tone(start=0, duration=8000, freqs=(440.0,)),)))
    before = _tree(tmp_path)
    r = ch.FileRecorder
    for call in (lambda: r.start(filename=name), lambda: r.record(filename=name, seconds_timeout=1)):
        with pytest.raises(ArgumentError) as info:
            call()
        assert info.value.parameter == "filename"
    assert _tree(tmp_path) == before == ["box", "box/store"]
    assert store.events == [] and store.open_writers() == 0
    assert r.state() is State.IDLE and r.cause() is Cause.NONE
    # defence in depth: the store refuses the name itself
    with pytest.raises(InvalidNameError):
        store.open_write(name)
    assert _tree(tmp_path) == before


def test_valid_nested_names_stay_under_the_root(tmp_path: Path) -> None:
    """SD-NAME: accepted names with folders resolve inside the store root."""
    root = tmp_path / "store"
    clock = Clock()
    store = MediaStore(root, clock=lambda: clock.now)
    ch = CallChannel(clock, recorder_factory=FileRecorder, store=store)
    for name in ("a/b/c.wav", "a.b/c..wav".replace("..", "."), "x@y/-z_"):
        ch.FileRecorder.record(filename=name, seconds_timeout=0.1)
        path = (root / name).resolve()
        assert path.is_file() and path.is_relative_to(root.resolve())
    assert not any(p.name.startswith(".~") for p in root.rglob("*"))


def _scenario_file(tmp_path: Path, records: list[dict[str, Any]], **store: Any) -> Path:
    import tomli_w

    doc: dict[str, Any] = {
        "seed": 1,
        "audio": [{"at_ms": 0, "kind": "tone", "duration_ms": 3000, "freqs": [440.0], "level_dbm0": -10}],
        "actions": [{"call": "record", "args": a} for a in records],
    }
    if store:
        doc["store"] = store
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


def _callsim(*args: str) -> subprocess.CompletedProcess[str]:
    """The real ``callsim`` entry point in a separate process."""
    return subprocess.run([sys.executable, "-m", "callsim", *args], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=120, check=False)


def _callsim_here(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``callsim`` run in this process (same code path, no interpreter start-up)."""
    from callsim.cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


def test_callsim_run_rejects_traversal(tmp_path: Path) -> None:
    """SD-NAME via ``callsim run --out``: traversal/absolute names raise ArgumentError in the
    steps, no file is written inside or outside --out."""
    bad = ["../evil.wav", "../../evil.wav", "/tmp/callsim-evil.wav", str(tmp_path / "evil.wav"), "a/../../evil.wav"]
    scen = _scenario_file(tmp_path, [{"filename": n, "seconds_timeout": 1} for n in bad]
                          + [{"filename": "ok/good.wav", "seconds_timeout": 1}])
    out = tmp_path / "deep" / "out"
    before = _tree(tmp_path)
    proc = _callsim("run", str(scen), "--json", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [s["raised"] for s in result["steps"]] == ["ArgumentError"] * len(bad) + [None]
    assert [f["name"] for f in result["files"]] == ["ok/good.wav"]
    after = _tree(tmp_path)
    assert sorted(set(after) - set(before)) == ["deep", "deep/out", "deep/out/ok", "deep/out/ok/good.wav"]
    assert not Path("/tmp/callsim-evil.wav").exists()


# -- no plaintext reaches the store -------------------------------------------------------------------
class Spy:
    """Captures every write and patch made on any StoreWriter."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.writes: list[bytes] = []
        self.patches: list[bytes] = []
        write, patch = StoreWriter.write, StoreWriter.patch

        def spy_write(w: StoreWriter, data: Any) -> None:
            self.writes.append(bytes(data))
            write(w, data)

        def spy_patch(w: StoreWriter, offset: int, data: Any) -> None:
            self.patches.append(bytes(data))
            patch(w, offset, data)

        monkeypatch.setattr(StoreWriter, "write", spy_write)
        monkeypatch.setattr(StoreWriter, "patch", spy_patch)


def _cipher_call(key: str, root: Path | None, hangup_ms: int | None = None) -> CallChannel:
    clock = Clock()
    audio = Timeline((Tone(start=0, duration=2000 * 8, freqs=(440.0, 1800.0), level_dbm0=-12),
                      Dtmf(start=3000 * 8, digits="5", tone_ms=100, gap_ms=100)), seed=2)
    store = MediaStore(root, clock=lambda: clock.now) if root is not None else None
    ch = CallChannel(clock, recorder_factory=FileRecorder, audio=audio, store=store)
    if hangup_ms is not None:
        ch.schedule_state(hangup_ms * 8, CallState.IDLE)
    return ch


PATHS = {
    # name: (run(ch, cipher) -> None, expected cause, file published)
    "silence": (lambda ch, c, f: ch.FileRecorder.record(filename="e.wav", file_format=f, cipher=c, milliseconds_max_silence=500), Cause.SILENCE, True),
    "timeout": (lambda ch, c, f: ch.FileRecorder.record(filename="e.wav", file_format=f, cipher=c, seconds_timeout=1.5), Cause.TIMEOUT, True),
    "size": (lambda ch, c, f: ch.FileRecorder.record(filename="e.wav", file_format=f, cipher=c, max_bytes=3001), Cause.SIZE, True),
    "bargein": (lambda ch, c, f: ch.FileRecorder.record(filename="e.wav", file_format=f, cipher=c, barge_in=True, milliseconds_max_silence=0), Cause.BARGEIN, True),
    "stop": (lambda ch, c, f: (ch.FileRecorder.start(filename="e.wav", file_format=f, cipher=c), ch.sleep(1.23), ch.FileRecorder.stop()), Cause.ABORTED, True),
    "hangup": (lambda ch, c, f: (ch.schedule_state(ch.clock.now + 8 * 777, CallState.IDLE), ch.FileRecorder.record(filename="e.wav", file_format=f, cipher=c)), Cause.HANGUP, True),
    "write-fault": (lambda ch, c, f: (setattr(ch.store, "faults", FaultPlan(fail_write_n=1)), ch.FileRecorder.record(filename="e.wav", file_format=f, cipher=c, milliseconds_max_silence=500)), Cause.ERROR, False),
    "out-of-space": (lambda ch, c, f: (setattr(ch.store, "faults", FaultPlan(capacity_bytes=5000)), ch.FileRecorder.record(filename="e.wav", file_format=f, cipher=c, milliseconds_max_silence=500)), Cause.ERROR, False),
    "commit-fault": (lambda ch, c, f: (setattr(ch.store, "faults", FaultPlan(fail_commit=True)), ch.FileRecorder.record(filename="e.wav", file_format=f, cipher=c, milliseconds_max_silence=500)), Cause.ERROR, False),
}


@pytest.mark.parametrize("fmt", ["alaw", "s16bit", "ima"])
@pytest.mark.parametrize("path", list(PATHS))
def test_no_plaintext_reaches_the_store(path: str, fmt: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SD-CIPHER: on every ending, each byte handed to the store is ciphertext."""
    key = KEYS[256]
    cipher = Cipher(key, IV)
    run, cause, published = PATHS[path]
    for root in (None, tmp_path / "store"):
        spy = Spy(monkeypatch)
        ch = _cipher_call(key, root)
        run(ch, cipher, fmt)
        r = ch.FileRecorder
        assert r.cause() is cause
        assert spy.patches == [], "a header patch would be plaintext"
        assert len(spy.writes) == 1, "the whole file is encrypted and written once, at the end"
        written = spy.writes[0]
        for marker in MARKERS:
            assert marker not in written, f"plaintext marker {marker!r} written ({path}, {fmt})"
        plain = cipher.decrypt(written)  # what was written (or attempted) is our ciphertext
        assert validate_wav(plain, fmt, 8000) == []
        blocks = [plain[i : i + 16] for i in range(0, len(plain) - 16, 16)]
        assert blocks and not any(b in written for b in blocks[:300] if len(set(b)) > 2)
        assert_no_secret(written.hex(), key, "the written bytes")
        if published:
            assert ch.store.read("e.wav") == written and cipher.validate(written)
        else:
            assert ch.store.list() == [] and r.state() is State.ERROR
        assert ch.store.open_writers() == 0
        if root is not None:
            for p in root.rglob("*"):
                if p.is_file():
                    assert p.read_bytes() == written
        monkeypatch.undo()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
@pytest.mark.parametrize("bits", [128, 192, 256])
@pytest.mark.parametrize("path", ["hangup", "stop", "size"])
def test_openssl_decrypts_the_published_file(bits: int, path: str, tmp_path: Path) -> None:
    """SD-CIPHER: ``openssl enc -d -aes-N-cbc -K .. -iv ..`` decrypts the file to a valid WAV
    whose samples our decoder reads."""
    key = KEYS[bits]
    cipher = Cipher(key, IV)
    run, cause, _ = PATHS[path]
    ch = _cipher_call(key, None)
    run(ch, cipher, "s16bit")
    assert ch.FileRecorder.cause() is cause
    enc = tmp_path / "e.enc"
    enc.write_bytes(ch.store.read("e.wav"))
    dec = tmp_path / "e.wav"
    proc = subprocess.run(["openssl", "enc", "-d", f"-aes-{bits}-cbc", "-K", key, "-iv", IV,
                           "-in", str(enc), "-out", str(dec)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    plain = dec.read_bytes()
    assert plain == cipher.decrypt(enc.read_bytes())
    assert validate_wav(plain, "s16bit", 8000) == []
    assert len(decode_wav(plain)[1]) > 0


# -- key material never shows ------------------------------------------------------------------------
def test_key_never_in_logs_reprs_or_messages(tmp_path: Path) -> None:
    """SD-CIPHER: key/IV absent from the event log, reprs, and every exception message."""
    key = KEYS[256]
    cipher = Cipher(key, IV)
    ch = _cipher_call(key, tmp_path / "store")
    r = ch.FileRecorder
    texts: list[tuple[str, str]] = []
    assert r.start(filename="e.wav", cipher=cipher)
    job = r._job
    assert job is not None
    ch.sleep(0.5)
    texts += [("recorder repr", repr(r)), ("recorder str", str(r)), ("channel", repr(ch)),
              ("cipher repr", repr(cipher)), ("cipher str", str(cipher)), ("params", repr(job.params)),
              ("writer", repr(job.writer)), ("store", repr(ch.store)), ("encryptor", repr(cipher.encryptor()))]
    assert r.stop()
    # failure paths with a cipher
    for plan in (FaultPlan(fail_write_n=1), FaultPlan(capacity_bytes=10), FaultPlan(fail_commit=True)):
        ch.store.faults = plan
        r.record(filename="e.wav", cipher=cipher, seconds_timeout=0.3)
        assert r.cause() is Cause.ERROR
    ch.store.faults = FaultPlan()
    # exceptions raised while a cipher is among the arguments
    for kwargs in ({"filename": "../x", "cipher": cipher}, {"filename": "x", "rate": 1, "cipher": cipher},
                   {"filename": "x", "cipher": key}, {"filename": "x", "cipher": {"key": key, "iv": IV}},
                   {"filename": "x", "cipher": (key, IV)}, {"filename": "x", "cipher": key.encode()}):
        with pytest.raises(ArgumentError) as info:
            r.start(**kwargs)
        texts += [("ArgumentError", str(info.value)), ("ArgumentError repr", repr(info.value)),
                  ("ArgumentError.value", repr(info.value.value))]
    for bad_key, bad_iv in ((key[:-2], IV), (key + "00", IV), (key, IV[:-1] + "g"), (key, IV + "00"),
                            (key[:-1] + "z", IV), (" " + key, IV)):
        with pytest.raises(CipherError) as cinfo:
            Cipher(bad_key, bad_iv)
        texts.append(("CipherError", str(cinfo.value)))
    texts.append(("event log", ch.log.to_json()))
    texts.append(("store events", repr(ch.store.events)))
    for where, text in texts:
        assert_no_secret(text, key, where)


def test_callsim_json_and_log_never_show_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SD-CIPHER: ``callsim run --json --with-log --log`` output holds no key material, on
    success, on a store fault and with a malformed key."""
    key = KEYS[192]
    good = {"key": key, "iv": IV}
    bad = {"key": key[:-2], "iv": IV}
    scen = _scenario_file(tmp_path, [
        {"filename": "a.wav", "seconds_timeout": 1, "cipher": good},
        {"filename": "b.wav", "seconds_timeout": 1, "cipher": bad},
        {"filename": "../c.wav", "seconds_timeout": 1, "cipher": good},
        {"filename": "d.wav", "seconds_timeout": 1, "cipher": good, "rate": 12345},
    ], capacity_bytes=20_000)
    log = tmp_path / "log.json"
    proc = _callsim_here(capsys, "run", str(scen), "--json", "--with-log", "--log", str(log), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [s["raised"] for s in result["steps"]] == [None, "CipherError", "ArgumentError", "ArgumentError"]
    assert result["steps"][0]["returned"] == "TIMEOUT"
    for where, text in (("stdout", proc.stdout), ("stderr", proc.stderr), ("--log file", log.read_text())):
        assert_no_secret(text, key, where)
    # the human summary too
    proc = _callsim_here(capsys, "run", str(scen))
    assert proc.returncode == 0
    assert_no_secret(proc.stdout + proc.stderr, key, "callsim run text output")
    # and a store fault on the encrypted job
    scen = _scenario_file(tmp_path, [{"filename": "a.wav", "seconds_timeout": 1, "cipher": good}], fail_write_n=1)
    proc = _callsim_here(capsys, "run", str(scen), "--json", "--with-log")
    assert json.loads(proc.stdout)["final"]["cause"] == "ERROR"
    assert_no_secret(proc.stdout + proc.stderr, key, "callsim run on a store fault")
