"""What ``callsim conformance`` prints: one progress display, one summary, the root causes.

``callsim conformance`` runs pytest with pytest's own terminal reporter switched off and
``Progress`` (a pytest plugin object) in its place, so the terminal shows exactly:

* one header line once the number of cases is known (``211 cases, 2 workers``);
* one progress display: on a terminal one line rewritten in place (a bar with the count and
  the FAILs so far), elsewhere (CI logs, pipes) rows of one letter per case with ``[ n/total]``;
* after the run, ``summary_lines``: the grades in one line with the duration and the report's
  path, a partial run marked, then each root cause (``conformance.groups``) once, with the
  sentence of the spec it breaks, its smallest case and that case's replay line, and (unless
  quiet) the IDs of the cases it covers.

Nothing pytest would only say about itself reaches the terminal (its warnings summary, the
FAILURES block, the short summary: the report and the groups say it once). What would be lost
with its reporter and matters is printed here: a collection error (the suite could not be
imported) and a crashed pytest-xdist worker.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any, TextIO

from callsim.textsafe import printable

from .plugin import case_id_of, summary_text

__all__ = ["Progress", "summary_lines", "group_lines"]

_LETTER = {"passed": ".", "failed": "F", "skipped": "s"}


class Progress:
    """A pytest plugin object: the progress of the conformance cases (see the module's doc)."""

    def __init__(self, implementation: str, *, out: TextIO | None = None, quiet: bool = False,
                 workers: str | None = None, isatty: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.quiet = quiet
        self.implementation = implementation
        self.workers = workers
        self.isatty = self.out.isatty() if isatty is None else isatty
        self.total: int | None = None
        self.done: dict[str, str] = {}
        self.config: Any = None
        self._column = 0
        self._open_line = False

    # -- pytest hooks -----------------------------------------------------------------------------
    def pytest_configure(self, config: Any) -> None:
        self.config = config

    def pytest_collection_finish(self, session: Any) -> None:
        n = sum(1 for item in session.items if case_id_of(item.nodeid) is not None)
        if n or not hasattr(session.config, "workerinput") and not _distributed(session.config):
            self._start(n)

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.total is None:
            self._start(sum(1 for i in ids if case_id_of(i) is not None))

    pytest_xdist_node_collection_finished.optionalhook = True  # type: ignore[attr-defined]

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self._end_line()
            self._write(f"callsim conformance: collecting {report.nodeid or 'the suite'} failed:\n"
                        f"{printable(str(report.longrepr))}\n")

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        if error:
            self._end_line()
            self._write(f"callsim conformance: worker {getattr(node.gateway, 'id', '?')} crashed: "
                        f"{printable(str(error))[:300]}; its case is graded FAIL\n")

    pytest_testnodedown.optionalhook = True  # type: ignore[attr-defined]

    def pytest_runtest_logreport(self, report: Any) -> None:
        nodeid = report.nodeid
        if case_id_of(nodeid) is None or nodeid in self.done:
            return
        if report.when == "call" or report.outcome != "passed":
            letter = "x" if hasattr(report, "wasxfail") else _LETTER.get(report.outcome, "?")
            if report.when != "call" and report.outcome == "failed":
                letter = "E"
            self.done[nodeid] = letter
            self._tick(letter)

    # -- drawing ----------------------------------------------------------------------------------
    def _start(self, n: int) -> None:
        self.total = n
        if self.quiet:
            return
        on = f", {self.workers} workers" if self.workers else ""
        self._write(printable(f"callsim conformance: {n} cases, recorder {self.implementation}{on}\n"))

    def _tick(self, letter: str) -> None:
        if self.quiet:
            return
        total = self.total or len(self.done)
        n = len(self.done)
        if self.isatty:
            width = 30
            filled = width * n // max(total, 1)
            fails = sum(1 for v in self.done.values() if v in "FE")
            bad = f", {fails} not passing" if fails else ""
            self._write(f"\r[{'#' * filled}{'.' * (width - filled)}] {n}/{total} cases{bad}  ")
            self._open_line = True
            return
        self._write(letter)
        self._column += 1
        self._open_line = True
        if self._column == 60 or n == total:
            pad = " " * (60 - self._column)
            self._write(f"{pad} [{n:>{len(str(total))}}/{total}]\n")
            self._column = 0
            self._open_line = False

    def _end_line(self) -> None:
        if self._open_line:
            self._write("\n")
            self._open_line = False
            self._column = 0

    def finish(self) -> None:
        """End the progress display (its line, on a terminal)."""
        self._end_line()

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


def _distributed(config: Any) -> bool:
    return bool(getattr(config.option, "numprocesses", None) or getattr(config.option, "dist", "no") != "no")


def summary_lines(report: Any, report_dir: Path | str, *, quiet: bool = False, width: int | None = None) -> list[str]:
    """The run's summary: grades, duration and report path in one line, a partial run marked,
    then the root causes (``group_lines``)."""
    lines = [*([] if quiet else [""]), f"{summary_text(report)} in {report.duration_s:.1f} s; report {Path(report_dir) / 'index.html'}"]
    note = report.partial_note()
    if note:
        lines.append(note)
    lines += group_lines(report, report_dir, quiet=quiet, width=width)
    return [printable(line) for line in lines]


def group_lines(report: Any, report_dir: Path | str, *, quiet: bool = False, width: int | None = None) -> list[str]:
    """Each root cause once: headline, the spec's sentence it breaks, its smallest case and
    replay line, and (unless ``quiet``) the cases it covers, at most three lines of them."""
    from .groups import group_cases

    groups = group_cases(report.cases)
    if not groups:
        return []
    width = width or max(60, min(shutil.get_terminal_size((100, 20)).columns, 160))
    n_bad = sum(len(g.cases) for g in groups)
    lines = ["", f"{len(groups)} root cause{'s' if len(groups) != 1 else ''} "
             f"({n_bad} case{'s' if n_bad != 1 else ''} not passing):"]
    for g in groups:
        first = g.smallest
        if len(g.cases) == 1:
            lines.append(f"  {g.grade} {first.id} [{', '.join(first.clauses)}]: {g.label}")
        else:
            lines.append(f"  {g.headline()}")
        quote = g.quote if g.grade == "FAIL" else ""
        if quote:
            lines.append(f"       breaks: \"{quote}\"")
        if len(g.cases) > 1:
            lines.append(f"       smallest case: {first.id}")
        if g.grade != "XPASS":
            lines.append(f"       replay: {report.replay_line(first, report_dir)}")
        if not quiet and len(g.cases) > 1:
            ids = ", ".join(c.id for c in sorted(g.cases, key=lambda c: c.id))
            wrapped = textwrap.wrap("cases: " + ids, width=width - 7, break_on_hyphens=False)
            if len(wrapped) > 3:
                wrapped = wrapped[:3]
                wrapped[-1] += " ... (all in the report)"
            lines += [f"       {w}" for w in wrapped]
    return lines
