"""Tests for simulator/store.py: naming rules, atomic publication, eventual consistency,
fault injection, and that memory and directory modes behave the same.

Oracles are independent of the code under test: the naming rules are re-stated here as plain
regular expressions, directory mode is checked by listing the directory with ``os.walk``, and
the consistency tests compare both store modes to a small model written in this file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.store import (
    MAX_NAME_LENGTH,
    NAME_RULES,
    FaultPlan,
    InvalidNameError,
    MediaStore,
    StoreError,
    StoreFullError,
    StoreNotFoundError,
    StoreWrite,
    validate_name,
)


class FakeClock:
    """A hand-advanced virtual clock (ticks)."""

    def __init__(self) -> None:
        self.t = 0

    def __call__(self) -> int:
        return self.t


def disk_files(root: Path) -> set[str]:
    """Every regular file under root, as '/'-separated names: the backdoor view of directory mode."""
    found = set()
    for folder, _dirs, files in os.walk(root):
        for f in files:
            found.add(Path(folder, f).relative_to(root).as_posix())
    return found


@pytest.fixture(params=["memory", "directory"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_store(mode: str, root: Path, clock: FakeClock, delay: int = 0) -> MediaStore:
    return MediaStore(root if mode == "directory" else None, clock=clock, visibility_delay=delay)


@pytest.fixture
def store(mode: str, tmp_path: Path, clock: FakeClock) -> Iterator[MediaStore]:
    s = make_store(mode, tmp_path, clock)
    yield s
    assert s.open_writers() == 0, "a test left a writer open"


# --------------------------------------------------------------------------------------------
# Naming rules
# --------------------------------------------------------------------------------------------


def spec_violations(name: object) -> set[str]:
    """The naming rules of docs/vendor-facts.md section 2 plus our documented choices, as plain regexes."""
    if not isinstance(name, str):
        return {"NAME-TYPE"}
    broken = set()
    if name == "":
        broken.add("NAME-EMPTY")
    if len(name) > 255:
        broken.add("NAME-TOO-LONG")
    if re.search(r"[^A-Za-z0-9._/@-]", name):
        broken.add("NAME-CHARS")
    if re.match(r"/", name):
        broken.add("NAME-ABSOLUTE")
    if re.search(r"/\Z", name):
        broken.add("NAME-TRAILING-SLASH")
    if re.search(r"//", name):
        broken.add("NAME-DOUBLE-SLASH")
    if re.search(r"\.\.", name):
        broken.add("NAME-DOTDOT")
    if re.search(r"(?:\A|/)\.(?:/|\Z)", name):
        broken.add("NAME-DOT-SEGMENT")
    return broken


GOOD_NAMES = [
    "recfile",
    "a.wav",
    "message.wave",
    "folder/sub/file.wav",
    "user@example.com/rec-1_2.wav",
    ".hidden",
    "a.b.c",
    "a/.b",
    "a./b",
    "a/b.",
    "-",
    "@",
    "_",
    "0",
    "x" * MAX_NAME_LENGTH,
    "/".join(["d"] * 128),  # 255 characters of folders
]

BAD_NAMES = [
    (None, "NAME-TYPE"),
    (b"recfile", "NAME-TYPE"),
    (Path("recfile"), "NAME-TYPE"),
    ("", "NAME-EMPTY"),
    ("x" * (MAX_NAME_LENGTH + 1), "NAME-TOO-LONG"),
    ("a b.wav", "NAME-CHARS"),
    ("a\x00b", "NAME-CHARS"),
    ("a\tb", "NAME-CHARS"),
    ("rec\n", "NAME-CHARS"),
    ("\u00e9t\u00e9.wav", "NAME-CHARS"),  # non-ASCII letters
    ("\u0661\u0662", "NAME-CHARS"),  # Arabic-Indic digits: str.isdigit() would accept them
    ("\uff41", "NAME-CHARS"),  # fullwidth 'a'
    ("a\\b", "NAME-CHARS"),
    ("a:b", "NAME-CHARS"),
    ("a*b", "NAME-CHARS"),
    ("a+b", "NAME-CHARS"),
    ("/a.wav", "NAME-ABSOLUTE"),
    ("/", "NAME-ABSOLUTE"),
    ("a/", "NAME-TRAILING-SLASH"),
    ("a//b", "NAME-DOUBLE-SLASH"),
    ("..", "NAME-DOTDOT"),
    ("../a", "NAME-DOTDOT"),
    ("a/../b", "NAME-DOTDOT"),
    ("a/..", "NAME-DOTDOT"),
    ("a..b", "NAME-DOTDOT"),
    ("...", "NAME-DOTDOT"),
    (".", "NAME-DOT-SEGMENT"),
    ("./a", "NAME-DOT-SEGMENT"),
    ("a/./b", "NAME-DOT-SEGMENT"),
    ("a/.", "NAME-DOT-SEGMENT"),
]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names_pass(name: str) -> None:
    """Names built from the allowed characters, without forbidden sequences, are accepted."""
    assert spec_violations(name) == set()
    validate_name(name)


@pytest.mark.parametrize(("name", "rule"), BAD_NAMES)
def test_bad_names_raise_with_rule(name: object, rule: str) -> None:
    """Each rule is enforced; the message names the rule and shows the name via repr."""
    assert rule in spec_violations(name)
    with pytest.raises(InvalidNameError) as info:
        validate_name(name)
    assert info.value.rule == rule
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert rule in message
    if len(repr(name)) <= 60:
        assert repr(name) in message


def test_too_long_name_message_is_shortened() -> None:
    """A huge name does not flood the message but its length is given."""
    with pytest.raises(InvalidNameError) as info:
        validate_name("y" * 10_000)
    assert len(str(info.value)) < 200
    assert "10000" in str(info.value)


def test_rule_ids_are_the_documented_ones() -> None:
    """NAME_RULES lists exactly the rule IDs the naming oracle knows."""
    assert set(NAME_RULES) == {
        "NAME-TYPE", "NAME-EMPTY", "NAME-TOO-LONG", "NAME-CHARS", "NAME-ABSOLUTE",
        "NAME-TRAILING-SLASH", "NAME-DOUBLE-SLASH", "NAME-DOTDOT", "NAME-DOT-SEGMENT",
    }  # fmt: skip


name_strategy = st.one_of(
    st.text(alphabet=st.sampled_from("aZ09._/@-"), max_size=12),
    st.text(alphabet=st.sampled_from("ab./ \x00\u00e9-"), max_size=12),
    st.text(max_size=8),
    st.text(alphabet=st.sampled_from("ab/."), min_size=250, max_size=260),
)


@settings(max_examples=400, deadline=None)
@given(name_strategy)
def test_validate_name_agrees_with_regex_spec(name: str) -> None:
    """Property: a name passes exactly when the regex spec finds no broken rule; otherwise the
    error's rule is the first broken one in the documented order."""
    broken = spec_violations(name)
    if not broken:
        validate_name(name)
        return
    with pytest.raises(InvalidNameError) as info:
        validate_name(name)
    assert info.value.rule == min(broken, key=NAME_RULES.index)
    assert info.value.rule in str(info.value)


@pytest.mark.parametrize(("name", "rule"), BAD_NAMES[:8] + BAD_NAMES[-6:])
def test_bad_name_creates_nothing(tmp_path: Path, name: object, rule: str) -> None:
    """open_write validates first: a bad name leaves no file, folder, writer or event."""
    s = MediaStore(tmp_path)
    with pytest.raises(InvalidNameError):
        s.open_write(name)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    assert s.open_writers() == 0
    assert s.events == []


def test_reads_validate_names(store: MediaStore) -> None:
    """read/exists/stat/delete refuse invalid names too (they could escape the root on disk)."""
    for call in (store.read, store.exists, store.stat, store.delete):
        with pytest.raises(InvalidNameError):
            call("../etc/passwd")


# --------------------------------------------------------------------------------------------
# Writing and atomic publication
# --------------------------------------------------------------------------------------------


def test_roundtrip_and_listing(store: MediaStore, tmp_path: Path, mode: str) -> None:
    """Committed bytes read back exactly; list is sorted; stat gives the size."""
    payload = bytes(range(256)) * 3
    w = store.open_write("dir/sub/b.wav")
    w.write(payload[:100])
    w.write(bytearray(payload[100:]))
    assert w.tell() == len(payload)
    w.commit()
    with store.open_write("a") as w2:
        w2.write(b"x")
    assert store.list() == ["a", "dir/sub/b.wav"]
    assert store.read("dir/sub/b.wav") == payload
    assert store.stat("dir/sub/b.wav").size == len(payload)
    assert store.total_bytes() == len(payload) + 1
    if mode == "directory":
        assert (tmp_path / "dir" / "sub" / "b.wav").read_bytes() == payload
        assert disk_files(tmp_path) == {"a", "dir/sub/b.wav"}


def test_nothing_visible_while_writing(store: MediaStore, tmp_path: Path, mode: str) -> None:
    """Before commit no observer sees the file; on disk only a hidden temporary exists."""
    w = store.open_write("rec.wav")
    w.write(b"RIFF" + b"\0" * 100)
    assert store.open_writers() == 1
    for observer in ("self", "web"):
        assert not store.exists("rec.wav", observer=observer)
        assert store.list(observer=observer) == []
        with pytest.raises(StoreNotFoundError):
            store.read("rec.wav", observer=observer)
    if mode == "directory":
        files = disk_files(tmp_path)
        assert "rec.wav" not in files
        assert len(files) == 1 and next(iter(files)).startswith(".")
    w.commit()
    assert store.read("rec.wav") == b"RIFF" + b"\0" * 100
    if mode == "directory":
        assert disk_files(tmp_path) == {"rec.wav"}, "temporary file left after commit"


def test_overwrite_serves_old_version_until_commit(
    store: MediaStore, tmp_path: Path, mode: str
) -> None:
    """While a new version is written, readers get the complete old one; then the complete new one."""
    with store.open_write("f") as w:
        w.write(b"old contents")
    w2 = store.open_write("f")
    w2.write(b"new")
    assert store.read("f") == b"old contents"
    if mode == "directory":
        assert (tmp_path / "f").read_bytes() == b"old contents"
    w2.write(b" contents!")
    w2.commit()
    assert store.read("f") == b"new contents!"
    assert store.list() == ["f"]
    if mode == "directory":
        assert disk_files(tmp_path) == {"f"}


def test_abort_leaves_nothing(store: MediaStore, tmp_path: Path, mode: str) -> None:
    """abort discards data, the temporary file and folders the writer created."""
    w = store.open_write("new/folder/x.wav")
    w.write(b"data")
    w.abort()
    w.abort()  # idempotent
    assert w.state == "aborted"
    assert store.list() == []
    assert store.open_writers() == 0
    if mode == "directory":
        assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreError):
        w.write(b"more")
    with pytest.raises(StoreError):
        w.commit()


def test_context_manager_aborts_on_exception_and_commits_on_exit(store: MediaStore) -> None:
    """An exception inside the block aborts; a clean exit commits."""
    with pytest.raises(RuntimeError):
        with store.open_write("a") as w:
            w.write(b"partial")
            raise RuntimeError("boom")
    assert w.state == "aborted" and not store.exists("a")
    with store.open_write("b") as w2:
        w2.write(b"whole")
    assert w2.state == "committed" and store.read("b") == b"whole"


def test_patch_rewrites_earlier_bytes(store: MediaStore) -> None:
    """patch overwrites in place (a WAV header written last) and cannot extend the file."""
    w = store.open_write("p.wav")
    w.write(b"\0" * 8)
    w.write(b"payload")
    w.patch(0, b"HDR!")
    w.patch(4, memoryview(b"1234"))
    assert w.tell() == 15
    w.write(b"+")
    for offset, data in ((-1, b"x"), (14, b"xyz"), (17, b"")):
        with pytest.raises(ValueError):
            w.patch(offset, data)
    w.commit()
    assert store.read("p.wav") == b"HDR!1234payload+"


def test_write_rejects_non_bytes(store: MediaStore) -> None:
    """write takes bytes-like data only."""
    with store.open_write("t") as w:
        with pytest.raises(TypeError):
            w.write("text")  # type: ignore[arg-type]
        w.write(b"")
    assert store.read("t") == b""


def test_delete(store: MediaStore, tmp_path: Path, mode: str) -> None:
    """delete removes a file (and on disk the folders it leaves empty); a missing file raises."""
    with store.open_write("d/e/f") as w:
        w.write(b"1")
    with store.open_write("d/g") as w:
        w.write(b"2")
    store.delete("d/e/f")
    assert store.list() == ["d/g"]
    with pytest.raises(StoreNotFoundError):
        store.delete("d/e/f")
    with pytest.raises(FileNotFoundError):
        store.read("d/e/f")
    if mode == "directory":
        assert not (tmp_path / "d" / "e").exists()
        assert (tmp_path / "d").is_dir()


def test_file_and_folder_cannot_share_a_name(store: MediaStore) -> None:
    """'a' cannot be a file while 'a/b' is (impossible on disk, so refused in memory too)."""
    with store.open_write("a") as w:
        w.write(b"1")
    with pytest.raises(StoreError):
        store.open_write("a/b")
    with store.open_write("d/x") as w:
        w.write(b"2")
    with pytest.raises(StoreError):
        store.open_write("d")
    store.delete("a")
    with store.open_write("a/b") as w:
        w.write(b"3")
    assert store.list() == ["a/b", "d/x"]


def test_commit_conflict_found_late_aborts(store: MediaStore) -> None:
    """Two writers whose names clash: the second commit fails and leaves nothing behind."""
    w1 = store.open_write("z/y")
    w2 = store.open_write("z")
    w1.write(b"1")
    w2.write(b"2")
    w1.commit()
    with pytest.raises(StoreError):
        w2.commit()
    assert w2.state == "aborted"
    assert store.list() == ["z/y"]


def test_open_writers_counts_unfinished_writers(store: MediaStore) -> None:
    """open_writers is the 'no open handles' post-condition of the conformance suite."""
    ws = [store.open_write(f"w{i}") for i in range(3)]
    assert store.open_writers() == 3
    ws[0].commit()
    ws[1].abort()
    assert store.open_writers() == 1
    ws[2].commit()
    assert store.open_writers() == 0


def test_events_log_operations_with_ticks(store: MediaStore, clock: FakeClock) -> None:
    """events records (tick, op, name) for open, commit, abort, delete and faults."""
    clock.t = 5
    w = store.open_write("a")
    clock.t = 160
    w.commit()
    clock.t = 200
    store.open_write("b").abort()
    store.delete("a")
    store.faults = FaultPlan(fail_write_n=1)
    w = store.open_write("c")
    with pytest.raises(StoreError):
        w.write(b"x")
    assert [tuple(e) for e in store.events] == [
        (5, "open", "a"),
        (160, "commit", "a"),
        (200, "open", "b"),
        (200, "abort", "b"),
        (200, "delete", "a"),
        (200, "open", "c"),
        (200, "fault", "c"),
        (200, "abort", "c"),
    ]
    assert store.events[1].tick == 160 and store.events[1].op == "commit"


def test_on_event_callback_receives_every_event(tmp_path: Path) -> None:
    """on_event lets the channel copy store events into the simulator's event log."""
    seen: list[tuple[int, str, str]] = []
    s = MediaStore(on_event=lambda *e: seen.append(e))
    with s.open_write("a") as w:
        w.write(b"1")
    assert seen == [tuple(e) for e in s.events] == [(0, "open", "a"), (0, "commit", "a")]


@pytest.mark.parametrize("mode", ["memory", "directory"])
def test_on_write_observes_every_write_and_patch(mode: str, tmp_path: Path) -> None:
    """on_write sees each write and patch with its offset and bytes, including the write a
    fault plan fails (before the fault applies), and nothing the writer refuses."""
    seen: list[StoreWrite] = []
    s = MediaStore(tmp_path if mode == "directory" else None, on_write=seen.append)
    s.faults = FaultPlan(fail_write_n=3)
    w = s.open_write("a")
    w.write(b"head")
    w.write(bytearray(b"body"))
    w.patch(0, b"HE")
    with pytest.raises(ValueError):
        w.patch(7, b"xx")  # outside what was written: refused, not observed
    w.commit()
    w2 = s.open_write("b")
    with pytest.raises(StoreError):
        w2.write(b"third")  # the third write call fails
    with pytest.raises(StoreError):
        w2.write(b"closed")  # the writer is aborted: refused, not observed
    assert seen == [
        StoreWrite("a", "write", 0, b"head"),
        StoreWrite("a", "write", 4, b"body"),
        StoreWrite("a", "patch", 0, b"HE"),
        StoreWrite("b", "write", 0, b"third"),
    ]
    assert all(type(x.data) is bytes for x in seen)
    assert s.read("a") == b"HEadbody" and s.open_writers() == 0


def test_an_observer_that_raises_leaves_the_writer_open_and_unchanged() -> None:
    """So a test can play a third-party store that fails without cleaning up after itself."""

    def fail_second(write: StoreWrite) -> None:
        if write.offset > 0:
            raise OSError("the disk went away")

    s = MediaStore(on_write=fail_second)
    w = s.open_write("a")
    w.write(b"1")
    with pytest.raises(OSError):
        w.write(b"2")
    assert w.state == "open" and w.tell() == 1
    assert [e.op for e in s.events] == ["open"]
    w.abort()


def test_clock_must_return_int() -> None:
    """Virtual time is int ticks; a float clock is refused rather than silently used."""
    s = MediaStore(clock=lambda: 1.5)  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError):
        s.open_write("a")


@pytest.mark.parametrize("delay", [-1, 1.0, True, "3"])
def test_bad_visibility_delay(delay: object) -> None:
    """visibility_delay is an int >= 0."""
    with pytest.raises(ValueError):
        MediaStore(visibility_delay=delay)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Directory mode specifics
# --------------------------------------------------------------------------------------------


def test_directory_mode_indexes_existing_files(tmp_path: Path) -> None:
    """Files already under root are listed (visible to all); invalid names and temporaries are not."""
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "rec.wav").write_bytes(b"abc")
    (tmp_path / "has space.wav").write_bytes(b"x")
    (tmp_path / ".~callsim-1~.tmp").write_bytes(b"left over")
    s = MediaStore(tmp_path, visibility_delay=100)
    assert s.list() == s.list(observer="web") == ["old/rec.wav"]
    assert s.read("old/rec.wav", observer="web") == b"abc"
    assert s.stat("old/rec.wav").published_at is None
    # A new writer does not reuse the left-over temporary name, and does not touch it.
    with s.open_write("n") as w:
        w.write(b"1")
    assert (tmp_path / ".~callsim-1~.tmp").read_bytes() == b"left over"


def test_directory_root_is_created(tmp_path: Path) -> None:
    """A missing root folder is created."""
    root = tmp_path / "a" / "b"
    MediaStore(root)
    assert root.is_dir()


# --------------------------------------------------------------------------------------------
# Eventual consistency
# --------------------------------------------------------------------------------------------


def test_eventual_consistency_timeline(mode: str, tmp_path: Path, clock: FakeClock) -> None:
    """With D=100: publish, overwrite and delete reach 'self' at once and others at t+D."""
    s = make_store(mode, tmp_path, clock, delay=100)
    clock.t = 10
    with s.open_write("f") as w:
        w.write(b"v1")
    assert s.read("f") == b"v1"
    for t in (10, 50, 109):
        clock.t = t
        assert not s.exists("f", observer="web")
        assert s.list(observer="other") == []
    clock.t = 110
    assert s.read("f", observer="web") == b"v1"

    clock.t = 200
    with s.open_write("f") as w:
        w.write(b"version 2")
    assert s.read("f") == b"version 2"
    clock.t = 299
    assert s.read("f", observer="web") == b"v1"
    assert s.stat("f", observer="web").size == 2
    clock.t = 300
    assert s.read("f", observer="web") == b"version 2"

    clock.t = 400
    s.delete("f")
    assert not s.exists("f") and s.list() == []
    clock.t = 499
    assert s.read("f", observer="web") == b"version 2"
    assert s.list(observer="web") == ["f"]
    clock.t = 500
    assert not s.exists("f", observer="web")
    if mode == "directory":
        assert disk_files(tmp_path) == set()


def test_rapid_overwrites_each_reach_others_in_turn(
    mode: str, tmp_path: Path, clock: FakeClock
) -> None:
    """Three versions in quick succession: others see each one at its own publish time + D."""
    s = make_store(mode, tmp_path, clock, delay=50)
    for t, data in ((0, b"a"), (10, b"b"), (20, b"c")):
        clock.t = t
        with s.open_write("f") as w:
            w.write(data)
    expected = {49: None, 50: b"a", 59: b"a", 60: b"b", 69: b"b", 70: b"c"}
    for t, want in expected.items():
        clock.t = t
        got = s.read("f", observer="web") if s.exists("f", observer="web") else None
        assert got == want, t
        assert s.read("f") == b"c"


def test_zero_delay_is_immediate(store: MediaStore) -> None:
    """With D=0 every observer sees every change at once."""
    with store.open_write("f") as w:
        w.write(b"1")
    assert store.read("f", observer="web") == b"1"
    store.delete("f")
    assert not store.exists("f", observer="web")


# A model of the consistency rules, independent of the store: per name, the list of
# (publish tick, bytes or None for a delete); 'self' sees the newest, others the newest with
# tick + D <= now.
def model_view(
    history: dict[str, list[tuple[int, bytes | None]]], observer: str, now: int, delay: int
) -> dict[str, bytes]:
    view = {}
    for name, versions in history.items():
        chosen = (
            versions[-1]
            if observer == "self"
            else next((v for v in reversed(versions) if v[0] + delay <= now), None)
        )
        if chosen is not None and chosen[1] is not None:
            view[name] = chosen[1]
    return view


NAMES = ["a", "b.wav", "d/x", "d/y", "d/e/z"]
op_strategy = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(NAMES), st.binary(max_size=20)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES), st.just(b"")),
    st.tuples(st.just("tick"), st.integers(0, 40).map(str), st.just(b"")),
    st.tuples(st.just("abort"), st.sampled_from(NAMES), st.binary(max_size=5)),
)


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(op_strategy, max_size=25), delay=st.sampled_from([0, 1, 25]))
def test_memory_and_directory_modes_match_the_model(
    ops: list[tuple[str, str, bytes]], delay: int
) -> None:
    """Property: after any sequence of writes, deletes, aborts and clock steps, both modes give
    the same list/read results as the model, for 'self' and for another observer."""
    clock = FakeClock()
    history: dict[str, list[tuple[int, bytes | None]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stores = [MediaStore(None, clock=clock, visibility_delay=delay),
                  MediaStore(tmp, clock=clock, visibility_delay=delay)]  # fmt: skip
        for op, arg, data in ops:
            if op == "tick":
                clock.t += int(arg)
            elif op == "put":
                for s in stores:
                    with s.open_write(arg) as w:
                        w.write(data[:7])
                        w.write(data[7:])
                history.setdefault(arg, []).append((clock.t, data))
            elif op == "abort":
                for s in stores:
                    w = s.open_write(arg)
                    w.write(data)
                    w.abort()
            elif history.get(arg) and history[arg][-1][1] is not None:
                for s in stores:
                    s.delete(arg)
                history[arg].append((clock.t, None))
            for observer in ("self", "web"):
                want = model_view(history, observer, clock.t, delay)
                for s in stores:
                    assert s.list(observer=observer) == sorted(want)
                    assert {n: s.read(n, observer=observer) for n in want} == want
            live = model_view(history, "self", clock.t, delay)
            assert disk_files(Path(tmp)) == set(live)
            assert all(s.total_bytes() == sum(map(len, live.values())) for s in stores)
        assert all(s.open_writers() == 0 for s in stores)


# --------------------------------------------------------------------------------------------
# Fault injection
# --------------------------------------------------------------------------------------------


def test_fail_nth_write_counts_across_writers(store: MediaStore, tmp_path: Path, mode: str) -> None:
    """fail_write_n=3: the third write call on any writer fails; that writer is aborted."""
    store.faults = FaultPlan(fail_write_n=3)
    w1 = store.open_write("one")
    w1.write(b"1")
    w1.write(b"2")
    w2 = store.open_write("two")
    with pytest.raises(StoreError) as info:
        w2.write(b"3")
    assert not isinstance(info.value, StoreFullError)
    assert w2.state == "aborted"
    assert store.open_writers() == 1
    with pytest.raises(StoreError):
        w2.write(b"again")
    w1.write(b"4")  # only the Nth call fails
    w1.commit()
    assert store.list() == ["one"]
    if mode == "directory":
        assert disk_files(tmp_path) == {"one"}


def test_assigning_faults_restarts_the_count(store: MediaStore) -> None:
    """The write-call count starts again when a plan is assigned."""
    with store.open_write("a") as w:
        for _ in range(5):
            w.write(b"x")
    store.faults = FaultPlan(fail_write_n=2)
    w = store.open_write("b")
    w.write(b"1")
    with pytest.raises(StoreError):
        w.write(b"2")


def test_failed_overwrite_keeps_old_version(store: MediaStore, tmp_path: Path, mode: str) -> None:
    """A failure while overwriting leaves the previous version intact and no temporary."""
    with store.open_write("f") as w:
        w.write(b"good")
    store.faults = FaultPlan(fail_write_n=2)
    with pytest.raises(StoreError):
        with store.open_write("f") as w:
            w.write(b"b")
            w.write(b"ad")
    assert store.read("f") == b"good"
    if mode == "directory":
        assert disk_files(tmp_path) == {"f"}


def test_capacity_counts_held_and_pending_bytes(
    store: MediaStore, tmp_path: Path, mode: str
) -> None:
    """capacity: stored files + all pending writers + new data may not exceed it."""
    with store.open_write("held") as w:
        w.write(b"h" * 60)
    store.faults = FaultPlan(capacity_bytes=100)
    a = store.open_write("a")
    b = store.open_write("b")
    a.write(b"a" * 20)
    b.write(b"b" * 20)  # 60 + 20 + 20 = 100: exactly full is allowed
    with pytest.raises(StoreFullError) as info:
        a.write(b"!")
    assert isinstance(info.value, StoreError)
    assert a.state == "aborted"
    b.commit()
    assert store.total_bytes() == 80
    c = store.open_write("c")
    c.write(b"c" * 20)
    with pytest.raises(StoreFullError):
        c.write(b"c")
    assert store.list() == ["b", "held"]
    if mode == "directory":
        assert disk_files(tmp_path) == {"b", "held"}


def test_fail_commit(store: MediaStore, tmp_path: Path, mode: str) -> None:
    """fail_commit: commit raises, nothing is published, the writer is aborted."""
    store.faults = FaultPlan(fail_commit=True)
    w = store.open_write("x/f")
    w.write(b"data")
    with pytest.raises(StoreError):
        w.commit()
    assert w.state == "aborted" and store.list() == [] and store.open_writers() == 0
    if mode == "directory":
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs", [{"fail_write_n": 0}, {"capacity_bytes": -1}, {"fail_write_n": 1.5}]
)
def test_fault_plan_validation(kwargs: dict[str, object]) -> None:
    """FaultPlan refuses meaningless values."""
    with pytest.raises(ValueError):
        FaultPlan(**kwargs)  # type: ignore[arg-type]
