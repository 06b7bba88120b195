"""Files the ``callsim`` command writes where the user asked, and nowhere else.

This module owns writing the command's outputs (``run --out DIR`` and ``--log FILE``,
``plot -o FILE``). Every file is written to a new temporary file in its target folder
(``tempfile.mkstemp``: created with ``O_EXCL``, so a symlink planted under a guessed name is
never followed) and moved over the target name with ``os.replace``, which replaces a symlink
found at that name instead of writing through it; an existing target that is not a regular
file (a device, FIFO or socket, or a symlink to one such as ``/dev/stdout``) is refused, never
replaced. A reader therefore sees the old file or the
whole new one, never a part. Inside an ``--out`` folder the files' own sub-folders must be real
folders: a symlink planted there (pointing elsewhere) is refused, so nothing is written outside
the folder the user named. Every unusable path is an ``OutputPathError`` with one line naming the
option, the path and the reason; the command prints it and exits 2 before running anything when
the check can be made up front (``check_file_target``, ``prepare_folder``).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

__all__ = ["OutputPathError", "check_file_target", "prepare_folder", "write_file", "write_into"]


class OutputPathError(ValueError):
    """An output path that cannot be written; the message names the option, path and reason."""

    def __init__(self, option: str, path: object, reason: str) -> None:
        super().__init__(f"{option} {str(path)!r}: {reason}")


def _lstat(path: Path, option: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputPathError(option, path, exc.strerror or str(exc)) from None


def _names_a_folder(given: str | os.PathLike[str]) -> bool:
    text = os.fspath(given)
    return text.endswith(("/", os.sep)) or Path(text).name in ("", ".", "..")


def check_file_target(path: str | os.PathLike[str], *, option: str) -> Path:
    """Check that ``path`` can be written as a file: it does not name a folder, and its folder
    is (or can be created as) a writable folder. Returns it as a ``Path``; nothing is created."""
    p = Path(path)
    if _names_a_folder(path):
        raise OutputPathError(option, path, "names a folder; give a file name")
    try:
        st = os.stat(p)  # follows a symlink: a link to a folder is a folder here
    except OSError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputPathError(option, path, "is a folder; give a file name")
    if st is not None and not stat.S_ISREG(st.st_mode):
        # a device, FIFO or socket (or a symlink to one, such as /dev/stdout): replacing it with
        # a file could break the system (as root, /dev/null itself), writing into it is not
        # an atomic file write
        raise OutputPathError(option, path, f"is {_kind(st.st_mode)}, not a regular file; give a file name")
    _check_folder(p.absolute().parent, option, path)
    return p


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "a special file"


def _check_folder(folder: Path, option: str, given: object) -> None:
    """``folder`` exists as a writable folder, or can be created under one."""
    anc = folder
    while not anc.exists() and anc != anc.parent:
        if anc.is_symlink():
            raise OutputPathError(option, given, f"{str(anc)!r} is a dangling symlink")
        anc = anc.parent
    if not anc.is_dir():
        raise OutputPathError(option, given, f"{str(anc)!r} is not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputPathError(option, given, f"{str(anc)!r} is not writable")


def prepare_folder(path: str | os.PathLike[str], *, option: str) -> Path:
    """Create the folder ``path`` (and its parents) if needed; an ``OutputPathError`` when it is
    a file or cannot be created or written."""
    p = Path(path)
    try:
        if p.exists() and not p.is_dir():
            raise OutputPathError(option, path, "is an existing file, not a folder")
        _check_folder(p.absolute(), option, path)
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(option, path, f"cannot create the folder: {exc.strerror or exc}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise OutputPathError(option, path, "the folder is not writable")
    return p


def write_file(path: str | os.PathLike[str], data: bytes, *, option: str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in its folder and ``os.replace``
    (creating missing parent folders). A symlink at ``path`` is replaced, never followed."""
    p = check_file_target(path, option=option)
    folder = p.absolute().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:100]}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputPathError(option, path, f"cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would surprise: the usual mode of a new file
        os.replace(tmp, p)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputPathError(option, path, f"cannot write: {exc.strerror or exc}") from None
    return p


def write_into(folder: str | os.PathLike[str], name: str, data: bytes, *, option: str) -> Path:
    """Write a media file ``name`` (a store name: ``/``-separated, already validated) into
    ``folder``. Sub-folders are created as needed; an existing one that is a symlink or not a
    folder is refused, so the file always lands inside ``folder``."""
    root = Path(folder)
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise OutputPathError(option, root / name, "not a plain relative file name")
    here = root
    for part in parts[:-1]:
        here = here / part
        st = _lstat(here, option)
        if st is None:
            try:
                here.mkdir()
            except OSError as exc:
                raise OutputPathError(option, here, f"cannot create the folder: {exc.strerror or exc}") from None
        elif not stat.S_ISDIR(st.st_mode):
            what = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a folder"
            raise OutputPathError(option, here, f"is {what}; refusing to write {name!r} through it")
    return write_file(here / parts[-1], data, option=option)
