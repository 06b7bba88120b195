"""The simulated cloud media-file store that recorders write to.

This module owns four things (the vendor's media-file guides, summarised in
``docs/vendor-facts.md``):

* enforcing the file-name rules (``validate_name``, defined in ``callsim.contract.names``);
* atomic publication: ``open_write`` gives a ``StoreWriter`` that buffers (in memory) or writes
  a hidden temporary file in the target folder (directory mode); nothing is visible until
  ``commit()`` swaps in the whole file (``os.replace`` on disk), and ``abort()`` leaves nothing;
* eventual consistency: the writing application (observer ``"self"``) sees a publish, overwrite
  or delete at once; every other observer sees it ``visibility_delay`` ticks later and is served
  the previous version until then;
* fault injection for tests (``FaultPlan``): fail the Nth ``write`` call, run out of space, or
  fail every commit. Failures raise ``StoreError`` (``StoreFullError`` for space) and leave the
  writer aborted.

Observation: ``on_event`` sees every open, commit, abort, delete and fault (the run's event log
is fed from it); ``on_write`` sees every ``write`` and ``patch`` call with its bytes
(``StoreWrite``), for checks that need what was written (no plaintext reaches the store, how
many writes a clean run makes). Both are constructor arguments, so whoever builds a store
observes it without replacing a writer's methods.

Time is virtual: ``clock()`` returns ticks (samples at 8 kHz); the store never reads wall time
and uses no randomness (temporary names come from a counter).

Both modes keep the same index of versions in memory, so they behave the same. In directory
mode the newest version of each file lives on disk under ``root`` (so external tools and the
conformance suite can read it directly); older versions that other observers may still be
served are kept in memory until the newer one is visible to everyone. Files already under
``root`` when the store opens are indexed as visible to every observer; files added to the
directory behind the store's back later are not seen by ``list``/``read``.
"""

from __future__ import annotations

import builtins
import errno
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, NamedTuple, NoReturn

from callsim.contract.names import (
    MAX_NAME_LENGTH,
    NAME_RULES,
    InvalidNameError,
    checked_name,
    is_valid_name,
    validate_name,
)
from callsim.contract.seams import StoreError, StoreFullError, StoreNotFoundError

__all__ = [
    "MAX_NAME_LENGTH",
    "NAME_RULES",
    "SELF",
    "FaultPlan",
    "FileStat",
    "InvalidNameError",
    "MediaStore",
    "NameError_",
    "StoreError",
    "StoreEvent",
    "StoreFullError",
    "StoreNotFoundError",
    "StoreWrite",
    "StoreWriter",
    "is_valid_name",
    "validate_name",
]

#: The observer that wrote the files: it sees every change at once.
SELF: Final = "self"

# Temporary files carry a '~', which no valid name holds, so they can never clash with a
# published file and are skipped when an existing directory is indexed.
_TMP_PREFIX: Final = ".~callsim-"


#: The name used in early docs for ``InvalidNameError``.
NameError_ = InvalidNameError


@dataclass(frozen=True)
class FaultPlan:
    """Faults to inject; assigning ``store.faults`` restarts the write-call count.

    ``fail_write_n``: the Nth ``write`` call (1-based) on *any* writer of the store since the
    plan was assigned fails. ``capacity_bytes``: a ``write`` fails with ``StoreFullError`` when
    the bytes held by the store (newest version of every file) plus the bytes of every pending
    writer plus the new data would exceed it; a file being overwritten still counts until the
    commit, as with a temporary file on a real disk. ``fail_commit``: every commit fails.
    """

    fail_write_n: int | None = None
    capacity_bytes: int | None = None
    fail_commit: bool = False

    def __post_init__(self) -> None:
        if self.fail_write_n is not None and (
            not isinstance(self.fail_write_n, int) or self.fail_write_n < 1
        ):
            raise ValueError(f"fail_write_n must be an int >= 1 or None, not {self.fail_write_n!r}")
        if self.capacity_bytes is not None and (
            not isinstance(self.capacity_bytes, int) or self.capacity_bytes < 0
        ):
            raise ValueError(
                f"capacity_bytes must be an int >= 0 or None, not {self.capacity_bytes!r}"
            )


class StoreEvent(NamedTuple):
    """One entry of ``MediaStore.events``: ``op`` is open, commit, abort, delete or fault."""

    tick: int
    op: str
    name: str


class StoreWrite(NamedTuple):
    """One ``write`` or ``patch`` call, as the store's ``on_write`` observer is told of it.

    ``op`` is ``"write"`` (append) or ``"patch"`` (overwrite already written bytes); ``offset``
    is where ``data`` goes in the file being written (for a write, the size before it).
    """

    name: str
    op: str
    offset: int
    data: bytes


@dataclass(frozen=True)
class FileStat:
    """What ``stat`` reports; ``published_at`` is None for files found on disk at start-up."""

    name: str
    size: int
    version: int
    published_at: int | None


@dataclass(slots=True)
class _Version:
    seq: int
    published_at: int | None  # None: present before the store opened, visible to everyone
    size: int
    deleted: bool
    data: bytes | None  # None: a live version whose bytes are the file on disk


class StoreWriter:
    """A file being written; nothing is visible before ``commit()``.

    As a context manager it commits on a clean exit (unless already committed or aborted) and
    aborts when the block raises, as atomic-write helpers usually do.
    """

    def __init__(
        self, store: MediaStore, name: str, tmp_path: Path | None, made_dirs: list[Path]
    ) -> None:
        self._store = store
        self._name = name
        self._tmp_path = tmp_path
        self._made_dirs = made_dirs
        self._buffer = bytearray()
        self._file = open(tmp_path, "xb") if tmp_path is not None else None
        self._size = 0
        self._state = "open"

    @property
    def name(self) -> str:
        return self._name

    @property
    def state(self) -> str:
        """``"open"``, ``"committed"`` or ``"aborted"``."""
        return self._state

    @property
    def closed(self) -> bool:
        return self._state != "open"

    def tell(self) -> int:
        """Bytes written so far (the position the next ``write`` appends at)."""
        return self._size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data``; on an injected or real failure the writer is aborted and raises."""
        chunk = self._bytes(data)
        with self._store._lock:
            self._require_open()
            self._store._observe(StoreWrite(self._name, "write", self._size, chunk))
            self._store._before_write(self, len(chunk))
            if self._file is not None:
                self._io(lambda: self._file.write(chunk))  # type: ignore[union-attr]
            else:
                self._buffer += chunk
            self._size += len(chunk)

    def patch(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Overwrite bytes already written at ``offset`` (e.g. a WAV header once sizes are known)."""
        chunk = self._bytes(data)
        with self._store._lock:
            self._require_open()
            if not isinstance(offset, int) or offset < 0 or offset + len(chunk) > self._size:
                raise ValueError(
                    f"patch of {len(chunk)} bytes at offset {offset!r} is outside the {self._size} bytes written"
                )
            self._store._observe(StoreWrite(self._name, "patch", offset, chunk))
            if self._file is not None:
                file = self._file

                def overwrite() -> None:
                    file.seek(offset)
                    file.write(chunk)
                    file.seek(0, os.SEEK_END)

                self._io(overwrite)
            else:
                self._buffer[offset : offset + len(chunk)] = chunk

    def commit(self) -> None:
        """Publish the whole file atomically (replacing any older version of the name)."""
        with self._store._lock:
            self._require_open()
            self._store._commit(self)

    def abort(self) -> None:
        """Discard everything written; no file and no temporary file remain. Idempotent after close."""
        with self._store._lock:
            if self._state != "open":
                return
            self._discard()
            self._store._log("abort", self._name)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif self._state == "open":
            self.commit()

    def __repr__(self) -> str:
        return f"StoreWriter({self._name!r}, {self._state}, {self._size} bytes)"

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def _bytes(data: object) -> bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        return bytes(data)

    def _require_open(self) -> None:
        if self._state != "open":
            raise StoreError(f"writer for {self._name!r} is already {self._state}")

    def _io(self, action: Callable[[], object]) -> None:
        try:
            action()
        except OSError as exc:
            self._fail(_wrap_os_error(exc, f"writing {self._name!r}"))

    def _fail(self, error: StoreError) -> NoReturn:
        """Abort (logging the fault) and raise ``error``."""
        self._store._log("fault", self._name)
        self._discard()
        self._store._log("abort", self._name)
        raise error

    def _discard(self) -> None:
        """Drop buffered data or the temporary file, and folders this writer created."""
        self._state = "aborted"
        self._buffer = bytearray()
        self._close_file()
        if self._tmp_path is not None:
            try:
                os.unlink(self._tmp_path)
            except FileNotFoundError:
                pass
        for folder in reversed(self._made_dirs):
            _rmdir_if_empty(folder)
        self._store._writers.discard(self)

    def _close_file(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError:
                pass


class MediaStore:
    """Media files, in memory (``root=None``) or under a directory, with virtual-time visibility.

    ``clock()`` returns the current virtual time in ticks (defaults to a clock stuck at 0; the
    attribute may be replaced later). ``visibility_delay`` is ``D``: a change made at tick
    ``t`` reaches observers other than ``"self"`` at tick ``t + D``. ``on_event(tick, op, name)``,
    if given, is called for every entry appended to ``events``.

    ``on_write(write)``, if given, is called with a ``StoreWrite`` for every ``write`` and
    ``patch`` call a writer accepts (open writer, patch inside the written bytes), before
    injected faults apply and before the bytes are stored, so it also sees the write a fault
    plan fails. An exception it raises propagates to the caller and leaves the writer open and
    unchanged: a test can play a store that fails without cleaning up after itself.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], int] | None = None,
        visibility_delay: int = 0,
        on_event: Callable[[int, str, str], None] | None = None,
        on_write: Callable[[StoreWrite], None] | None = None,
    ) -> None:
        if (
            not isinstance(visibility_delay, int)
            or isinstance(visibility_delay, bool)
            or visibility_delay < 0
        ):
            raise ValueError(
                f"visibility_delay must be an int >= 0 ticks, not {visibility_delay!r}"
            )
        self.clock: Callable[[], int] = clock if clock is not None else (lambda: 0)
        self._delay = visibility_delay
        self._on_event = on_event
        self._on_write = on_write
        self._root = Path(root) if root is not None else None
        self._lock = threading.RLock()
        self._index: dict[str, builtins.list[_Version]] = {}
        self._writers: set[StoreWriter] = set()
        self._seq = 0
        self._tmp_counter = 0
        self._write_calls = 0
        self._faults = FaultPlan()
        self.events: builtins.list[StoreEvent] = []
        if self._root is not None:
            self._root.mkdir(parents=True, exist_ok=True)
            self._index_existing()

    # -- configuration -----------------------------------------------------------------------

    @property
    def root(self) -> Path | None:
        return self._root

    @property
    def visibility_delay(self) -> int:
        return self._delay

    @property
    def faults(self) -> FaultPlan:
        return self._faults

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        if not isinstance(plan, FaultPlan):
            raise TypeError(f"faults must be a FaultPlan, not {type(plan).__name__}")
        with self._lock:
            self._faults = plan
            self._write_calls = 0

    # -- writing -----------------------------------------------------------------------------

    def open_write(self, name: str) -> StoreWriter:
        """Start writing ``name`` (validated first: nothing is created for a bad name)."""
        name = checked_name(name)
        with self._lock:
            self._check_conflict(name)
            tmp_path: Path | None = None
            made: list[Path] = []
            if self._root is not None:
                target = self._path(name)
                made = _make_parents(target.parent, self._root)
                tmp_path = self._new_tmp_path(target.parent)
            try:
                writer = StoreWriter(self, name, tmp_path, made)
            except OSError as exc:
                for folder in reversed(made):
                    _rmdir_if_empty(folder)
                raise _wrap_os_error(exc, f"opening {name!r}") from exc
            self._writers.add(writer)
            self._log("open", name)
            return writer

    def delete(self, name: str) -> None:
        """Delete ``name`` (seen at once by ``"self"``, ``visibility_delay`` later by others)."""
        name = checked_name(name)
        with self._lock:
            now = self._now()
            current = self._visible(name, SELF, now)
            if current is None:
                raise StoreNotFoundError(f"no such file: {name!r}")
            self._supersede(name)
            if self._root is not None:
                path = self._path(name)
                try:
                    os.unlink(path)
                except OSError as exc:
                    raise _wrap_os_error(exc, f"deleting {name!r}") from exc
                _prune_empty_parents(path.parent, self._root)
            self._add_version(name, _Version(self._next_seq(), now, 0, True, None))
            self._log("delete", name)

    # -- reading -----------------------------------------------------------------------------

    def read(self, name: str, *, observer: str = SELF) -> bytes:
        """The bytes of ``name`` as ``observer`` sees it now; ``StoreNotFoundError`` if absent."""
        name = checked_name(name)
        with self._lock:
            version = self._visible(name, _check_observer(observer), self._now())
            if version is None:
                raise StoreNotFoundError(f"no such file for observer {observer!r}: {name!r}")
            if version.data is not None:
                return version.data
            try:
                return self._path(name).read_bytes()
            except OSError as exc:
                raise _wrap_os_error(exc, f"reading {name!r}") from exc

    def exists(self, name: str, *, observer: str = SELF) -> bool:
        name = checked_name(name)
        with self._lock:
            return self._visible(name, _check_observer(observer), self._now()) is not None

    def stat(self, name: str, *, observer: str = SELF) -> FileStat:
        name = checked_name(name)
        with self._lock:
            version = self._visible(name, _check_observer(observer), self._now())
            if version is None:
                raise StoreNotFoundError(f"no such file for observer {observer!r}: {name!r}")
            return FileStat(name, version.size, version.seq, version.published_at)

    def list(self, *, observer: str = SELF) -> builtins.list[str]:
        """Sorted names of the files ``observer`` sees now."""
        observer = _check_observer(observer)
        with self._lock:
            now = self._now()
            return sorted(
                name for name in list(self._index) if self._visible(name, observer, now) is not None
            )

    # -- observability -----------------------------------------------------------------------

    def open_writers(self) -> int:
        """How many writers are neither committed nor aborted (should be 0 after a job)."""
        with self._lock:
            return len(self._writers)

    def total_bytes(self) -> int:
        """Bytes held: the newest version of every file (pending writers not included)."""
        with self._lock:
            return sum(
                versions[-1].size for versions in self._index.values() if not versions[-1].deleted
            )

    def __repr__(self) -> str:
        where = "memory" if self._root is None else str(self._root)
        return f"MediaStore({where}, visibility_delay={self._delay}, files={len(self.list())})"

    # -- internals ---------------------------------------------------------------------------

    def _now(self) -> int:
        tick = self.clock()
        if not isinstance(tick, int) or isinstance(tick, bool):
            raise TypeError(f"clock() must return int ticks, not {type(tick).__name__}")
        return tick

    def _log(self, op: str, name: str) -> None:
        event = StoreEvent(self._now(), op, name)
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(*event)

    def _observe(self, write: StoreWrite) -> None:
        if self._on_write is not None:
            self._on_write(write)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _path(self, name: str) -> Path:
        """Where ``name`` lives under the root; ``StoreError`` when that would leave the root:
        a folder on the way that resolves outside it (a symlink), or a symlink at the name."""
        assert self._root is not None
        path = self._root.joinpath(*name.split("/"))
        real_root = self._root.resolve()
        real_parent = path.parent.resolve()
        if real_parent != real_root and real_root not in real_parent.parents:
            raise StoreError(f"refusing {name!r}: its folder resolves to {str(real_parent)!r}, outside the store's root")
        if path.is_symlink():
            raise StoreError(f"refusing {name!r}: it is a symlink in the store's folder")
        return path

    def _new_tmp_path(self, folder: Path) -> Path:
        # A counter, not randomness: runs stay reproducible. Skip names left by another process.
        while True:
            self._tmp_counter += 1
            path = folder / f"{_TMP_PREFIX}{self._tmp_counter}~.tmp"
            if not path.exists():
                return path

    def _index_existing(self) -> None:
        assert self._root is not None
        for folder, _dirs, files in os.walk(self._root):
            for filename in files:
                path = Path(folder, filename)
                name = path.relative_to(self._root).as_posix()
                if is_valid_name(name) and path.is_file() and not path.is_symlink():
                    self._index[name] = [
                        _Version(self._next_seq(), None, path.stat().st_size, False, None)
                    ]

    def _visible(self, name: str, observer: str, now: int) -> _Version | None:
        """The version ``observer`` is served now, or None; drops versions nobody can see again."""
        versions = self._index.get(name)
        if not versions:
            return None
        # Newest version every observer already sees: anything older is unreachable.
        settled = next(
            (i for i in range(len(versions) - 1, -1, -1) if self._seen_by_all(versions[i], now)),
            None,
        )
        if settled is not None and settled > 0:
            del versions[:settled]
        if len(versions) == 1 and versions[0].deleted and self._seen_by_all(versions[0], now):
            del self._index[name]
            return None
        if observer == SELF:
            chosen: _Version | None = versions[-1]
        else:
            chosen = next((v for v in reversed(versions) if self._seen_by_all(v, now)), None)
        return None if chosen is None or chosen.deleted else chosen

    def _seen_by_all(self, version: _Version, now: int) -> bool:
        return version.published_at is None or version.published_at + self._delay <= now

    def _supersede(self, name: str) -> None:
        """Before replacing the on-disk newest version, keep its bytes for lagging observers."""
        versions = self._index.get(name)
        if not versions or self._delay == 0:
            return
        newest = versions[-1]
        if not newest.deleted and newest.data is None:
            try:
                newest.data = self._path(name).read_bytes()
            except OSError as exc:
                raise _wrap_os_error(exc, f"keeping the old version of {name!r}") from exc

    def _add_version(self, name: str, version: _Version) -> None:
        self._index.setdefault(name, []).append(version)
        self._visible(name, SELF, version.published_at or 0)  # prune at once when D == 0

    def _check_conflict(self, name: str) -> None:
        """A name cannot be both a file and a folder (impossible on disk, so refused in memory too)."""
        parts = name.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if self._live(folder):
                raise StoreError(f"cannot write {name!r}: {folder!r} is a file")
        prefix = name + "/"
        if any(other.startswith(prefix) and self._live(other) for other in self._index):
            raise StoreError(f"cannot write {name!r}: it is a folder")

    def _live(self, name: str) -> bool:
        versions = self._index.get(name)
        return bool(versions) and not versions[-1].deleted  # type: ignore[index]

    def _before_write(self, writer: StoreWriter, size: int) -> None:
        """Count the write call and apply injected faults (the writer is aborted on failure)."""
        self._write_calls += 1
        plan = self._faults
        if plan.fail_write_n is not None and self._write_calls == plan.fail_write_n:
            writer._fail(
                StoreError(f"injected failure of write call {self._write_calls} ({writer.name!r})")
            )
        if plan.capacity_bytes is not None:
            pending = sum(w.tell() for w in self._writers)
            if self.total_bytes() + pending + size > plan.capacity_bytes:
                writer._fail(
                    StoreFullError(
                        f"out of space writing {writer.name!r}: capacity {plan.capacity_bytes} bytes"
                    )
                )

    def _commit(self, writer: StoreWriter) -> None:
        name = writer.name
        if self._faults.fail_commit:
            writer._fail(StoreError(f"injected commit failure ({name!r})"))
        try:
            self._check_conflict(name)  # another writer may have published a clashing name
        except StoreError as exc:
            writer._fail(exc)
        now = self._now()
        if writer._tmp_path is not None:
            try:
                writer._file.flush()  # type: ignore[union-attr]
                writer._close_file()
                self._supersede(name)
                os.replace(writer._tmp_path, self._path(name))
            except StoreError as exc:
                writer._fail(exc)
            except OSError as exc:
                writer._fail(_wrap_os_error(exc, f"publishing {name!r}"))
            data = None
        else:
            data = bytes(writer._buffer)
        writer._state = "committed"
        writer._buffer = bytearray()
        self._writers.discard(writer)
        self._add_version(name, _Version(self._next_seq(), now, writer.tell(), False, data))
        self._log("commit", name)


def _check_observer(observer: object) -> str:
    if not isinstance(observer, str):
        raise TypeError(f"observer must be a str, not {type(observer).__name__}")
    return observer


def _wrap_os_error(exc: OSError, doing: str) -> StoreError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFullError(f"out of space {doing}: {exc.strerror}")
    return StoreError(f"I/O error {doing}: {exc}")


def _make_parents(folder: Path, root: Path) -> list[Path]:
    """Create ``folder`` and its missing parents below ``root``; return those created, outermost first."""
    missing: list[Path] = []
    while folder != root and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    made: list[Path] = []
    try:
        for path in reversed(missing):
            path.mkdir()
            made.append(path)
    except OSError as exc:
        for path in reversed(made):
            _rmdir_if_empty(path)
        raise _wrap_os_error(exc, f"creating folder {path}") from exc
    return made


def _rmdir_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (another file lives there) or already gone: keep it


def _prune_empty_parents(folder: Path, root: Path) -> None:
    """Remove folders left empty by a delete, so the name may later become a file again."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
