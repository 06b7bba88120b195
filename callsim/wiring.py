"""The composition root: the one place that picks the reference recorder as the default.

The simulator knows no recorder and the suite grades whatever factory it is given; the programs
at the edge (the ``callsim`` command, ``callsim plot``, the pytest plugin) resolve a factory
here. ``resolve_factory(None)`` is the reference ``recorder.FileRecorder``; a ``MODULE:CALLABLE``
spelling names any other (``--recorder-factory``, ``CALLSIM_RECORDER_FACTORY``).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import Any

from callsim.contract import RecorderFactory

__all__ = ["REFERENCE", "FactoryError", "default_factory", "load_factory", "load_object", "resolve_factory",
           "resolve_recorder", "command_factory", "host_command"]

#: How the reference recorder is spelled as a factory path (shown in help and replay lines).
REFERENCE = "recorder:FileRecorder"


class FactoryError(ValueError):
    """A factory path that does not name an importable callable (the message says why)."""


def default_factory() -> RecorderFactory:
    """The reference recorder's factory (``recorder.FileRecorder``)."""
    from recorder import FileRecorder

    return FileRecorder


def load_factory(spec: str) -> RecorderFactory:
    """Resolve ``MODULE:CALLABLE`` (attribute paths with dots allowed) to a callable.

    Raises ``FactoryError`` with a one-line message for every way that can go wrong: a spelling
    without ``:``, a module that cannot be imported (or raises while importing), a missing
    attribute, an object that is not callable.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise FactoryError(f"recorder factory must look like MODULE:CALLABLE, got {spec!r}")
    obj: Any = load_object(spec, what="recorder factory")
    if not callable(obj):
        raise FactoryError(f"recorder factory {spec!r} is not callable (it is a {type(obj).__name__})")
    return obj  # type: ignore[no-any-return]


def load_object(spec: str, *, what: str = "object") -> Any:
    """The object ``MODULE:ATTR.PATH`` names; ``FactoryError`` (one line) when it cannot."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise FactoryError(f"{what} must look like MODULE:NAME, got {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name) and module_name[len(exc.name):][:1] in ("", "."):
            raise FactoryError(f"{what} {spec!r}: no module named {exc.name!r}{_close_module(exc.name)}") from None
        raise FactoryError(f"{what} {spec!r}: importing {module_name!r} failed: {exc}") from None
    except BaseException as exc:  # noqa: BLE001 - a module that raises on import is a bad spelling too
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise FactoryError(f"{what} {spec!r}: importing {module_name!r} failed: "
                           f"{type(exc).__name__}: {exc}") from None
    for i, part in enumerate(attr.split(".")):
        try:
            obj = getattr(obj, part)
        except Exception as exc:  # noqa: BLE001 - AttributeError, or whatever a property raises
            where = module_name + "".join("." + p for p in attr.split(".")[:i])
            why = "has no attribute" if isinstance(exc, AttributeError) else f"raised {type(exc).__name__} for"
            hint = _did_you_mean(part, [n for n in _names(obj) if not n.startswith("_")]) \
                if isinstance(exc, AttributeError) else ""
            raise FactoryError(f"{what} {spec!r}: {where!r} {why} {part!r}{hint}") from None
    return obj


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _names(obj: Any) -> list[str]:
    try:
        return [str(n) for n in dir(obj)]
    except Exception:  # noqa: BLE001 - a hostile __dir__ only costs the hint
        return []


def _close_module(name: str) -> str:
    """" (did you mean 'x'?)" for a module name that does not exist: a sibling in its package,
    or a top-level module on the path."""
    parent, _, leaf = name.rpartition(".")
    try:
        if parent:
            pkg = importlib.import_module(parent)
            found = [m.name for m in pkgutil.iter_modules(getattr(pkg, "__path__", []))]
        else:
            found = [m.name for m in pkgutil.iter_modules()]
    except Exception:  # noqa: BLE001 - the hint is a convenience; the error stands without it
        return ""
    return _did_you_mean(leaf, found)


def resolve_factory(spec: str | None) -> RecorderFactory:
    """The factory a ``--recorder-factory`` value names; the reference when it is empty."""
    return load_factory(spec) if spec else default_factory()


def host_command(spec: str | None) -> list[str]:
    """The command that serves the factory ``spec`` (the reference when empty) over the wire
    protocol in a child process: ``python -m callsim host MODULE:CALLABLE``."""
    import sys

    return [sys.executable, "-m", "callsim", "host", spec or REFERENCE]


def command_factory(command: str | list[str], *, reply_timeout: float | None = None,
                    label: str | None = None) -> RecorderFactory:
    """A factory whose recorders run in processes started from ``command`` (a shell-like
    string, split with ``shlex``, or an argument list); ``FactoryError`` when it is empty or
    cannot be split."""
    import shlex

    from callsim.protocol import CommandFactory

    try:
        argv = shlex.split(command) if isinstance(command, str) else list(command)
    except ValueError as exc:
        raise FactoryError(f"recorder command {command!r}: {exc}") from None
    if not argv:
        raise FactoryError("recorder command is empty")
    import shutil

    if shutil.which(argv[0]) is None:  # a typo is a one-line usage error, not a FAIL per case
        raise FactoryError(f"recorder command {shlex.join(argv)!r}: no program {argv[0]!r} "
                           "(not found on PATH, or not executable)")
    return CommandFactory(argv, reply_timeout=reply_timeout, label=label)


def resolve_recorder(spec: str | None = None, *, command: str | None = None, isolate: bool = False,
                     reply_timeout: float | None = None) -> RecorderFactory:
    """The factory the options name: ``command`` (``--recorder-command``) runs a process;
    ``isolate`` (``--isolate``) runs ``spec`` (or the reference) behind the protocol in a
    ``callsim host`` process; otherwise ``resolve_factory(spec)`` in this process."""
    if reply_timeout is not None and not reply_timeout > 0:
        raise FactoryError(f"--reply-timeout {reply_timeout:g}: give a number of seconds above 0")
    if command and spec:
        raise FactoryError("give --recorder-factory or --recorder-command, not both")
    if command and isolate:
        raise FactoryError("--isolate runs a Python factory in a process; --recorder-command already is one")
    if command:
        return command_factory(command, reply_timeout=reply_timeout)
    if isolate:
        resolve_factory(spec)  # a bad spelling is a one-line error here, not a FAIL per case
        import shlex

        argv = host_command(spec)
        return command_factory(argv, reply_timeout=reply_timeout,
                               label=f"callsim host {shlex.quote(spec or REFERENCE)}")
    return resolve_factory(spec)
