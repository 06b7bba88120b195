"""The ``callsim`` command line.

Sub-commands: ``run`` (replay a scenario file), ``conformance`` (grade a recorder against the
spec), ``replay`` (rerun one case of a conformance report), ``plot`` (timeline picture of a
scenario). Exit status: 0 on success; ``conformance`` exits 1 when a case FAILs (or XPASSes
under strict expected failures); 2 for usage or input errors (an unknown factory; a bad scenario
file, reported on stderr as the one line ``file: key: reason``) and whenever ``conformance``
could not grade (see ``callsim conformance --help``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "EXIT_STATUS"]

#: The exit status of ``callsim conformance`` (also its ``--help`` epilog).
EXIT_STATUS = """\
exit status:
  0  at least one case was graded and none failed (NON-STRICT, INFO, UNSUPPORTED and XFAIL
     do not fail a run)
  1  a case FAILed, or a case listed in --xfail passed (XPASS) while expected failures are
     strict (the default; --no-strict-xfail reports XPASS without failing)
  2  the run could not grade: the factory cannot be imported, lacks the attribute or is not
     callable; a bad option (-n, --capabilities, an unreadable --xfail file or one naming an
     unknown case); --report is a file, not writable, or a folder that is not a report; -k
     selected no case; a case the harness could not run (ERROR: not set up, never run); an
     interrupted run or an internal error. One line on stderr names the cause.
"""


def _factory_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--recorder-factory",
        metavar="MODULE:CALLABLE",
        default=os.environ.get("CALLSIM_RECORDER_FACTORY"),
        help="recorder factory factory(channel) -> recorder (default: the reference recorder; "
        "also read from CALLSIM_RECORDER_FACTORY)",
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from simulator.runner import run_scenario
    from simulator.scenario import ScenarioError, load_scenario

    from .wiring import resolve_factory

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:  # the scenario's own error: one line "file: key: reason"
        print(exc, file=sys.stderr)
        return 2
    try:
        factory = resolve_factory(args.recorder_factory)
    except (ValueError, ImportError, AttributeError) as exc:
        print(f"callsim run: {exc}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.check:
        from conformance.cli import check_scenario_run, print_findings
        from conformance.grades import worst

        code, findings, result = check_scenario_run(scenario, factory)
        if args.out:
            _write_files(result.contents, Path(args.out))
        if args.log:
            Path(args.log).write_text(json.dumps(result.log, indent=1, sort_keys=True) + "\n")
        if args.json:
            doc = result.to_json(with_log=args.with_log)
            doc["grade"] = worst([f.grade for f in findings]).value
            doc["findings"] = [f.to_json() for f in findings if f.grade.value != "PASS"]
            print(json.dumps(doc, sort_keys=True))
        else:
            print_findings(args.scenario, findings)
        return code
    result = run_scenario(scenario, factory, out_dir=args.out)
    if args.log:
        Path(args.log).write_text(json.dumps(result.log, indent=1, sort_keys=True) + "\n")
    if args.json:
        print(json.dumps(result.to_json(with_log=args.with_log), sort_keys=True))
        return 0
    from .textsafe import printable  # what the recorder returned is shown, never obeyed

    print(printable(f"scenario {args.scenario} (seed {scenario.seed})"))
    for s in result.steps:
        outcome = f"raised {s.raised}" if s.raised else f"-> {s.returned}"
        print(printable(f"  {s.at_ms:>10.1f} ms  {s.call:<28} {outcome}  (until {s.end_ms:.1f} ms)"))
    f = result.final
    print(printable(f"final: state={f['state']} cause={f['cause']} audio_detected={f['audio_detected']} "
                    f"call_state={f['call_state']} at {f['end_ms']:.1f} ms"))
    for info in result.files:
        print(printable(f"file {info['name']}: {info['format']} {info['rate']} Hz, {info['data_bytes']} data bytes, "
                        f"{info['duration_ms']} ms, sha256 {info['sha256'][:16]}..."))
    return 0


def _write_files(contents: dict[str, bytes], out: Path) -> None:
    """The recorded files of a run into ``out`` (as ``run_scenario(out_dir=...)`` writes them)."""
    for name, data in contents.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _cmd_conformance(args: argparse.Namespace) -> int:
    from conformance.cli import run_conformance

    from .wiring import resolve_factory

    return run_conformance(args, resolve_factory)


def _cmd_replay(args: argparse.Namespace) -> int:
    from conformance.cli import run_replay

    from .wiring import resolve_factory

    return run_replay(args, resolve_factory)


def _cmd_plot(args: argparse.Namespace) -> int:
    from .plot import plot_scenario
    from .wiring import resolve_factory

    try:
        factory = resolve_factory(getattr(args, "recorder_factory", None))
    except (ValueError, ImportError, AttributeError) as exc:
        print(f"callsim plot: {exc}", file=sys.stderr)
        return 2
    return plot_scenario(args, factory)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario file's action script")
    run.add_argument("scenario", help="scenario TOML file")
    run.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    run.add_argument("--out", metavar="DIR", help="write the recorded files to DIR")
    run.add_argument("--log", metavar="FILE", help="write the event log as JSON to FILE")
    run.add_argument("--with-log", action="store_true", help="include the event log in --json output")
    run.add_argument("--check", action="store_true",
                     help="grade the run with the conformance oracle and the scenario's [expect] table; exit 1 on FAIL")
    _factory_arg(run)
    run.set_defaults(func=_cmd_run)

    conf = sub.add_parser("conformance", help="grade a recorder against the spec", epilog=EXIT_STATUS,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    _factory_arg(conf)
    conf.add_argument("--report", metavar="DIR", default="report", help="report folder (default: report)")
    conf.add_argument("--profile", choices=("ci", "deep"), default="ci", help="hypothesis profile")
    conf.add_argument("-n", "--numprocesses", default=None, help="pytest-xdist workers (e.g. auto)")
    conf.add_argument("--xfail", metavar="FILE", help="expected-failures file of the implementation: one case ID "
                      "per line; a listed case that FAILs is XFAIL, one that passes XPASS")
    conf.add_argument("--strict-xfail", dest="strict_xfail", action=argparse.BooleanOptionalAction, default=True,
                      help="an XPASS fails the run (default: strict; --no-strict-xfail only reports it)")
    conf.add_argument("--capabilities", metavar="MODULE:NAME", help="capabilities object (default: from the factory)")
    conf.add_argument("--case-timeout", type=float, default=None, metavar="SECONDS",
                      help="wall-clock budget of one case: a recorder that has not returned by then FAILs the "
                      "case (\"did not return within N s\") and the run goes on (default: 300, ten times that for a property under the deep profile; 0: no budget)")
    conf.add_argument("--database", metavar="DIR|redis://HOST:PORT/DB", default=None,
                      help="hypothesis example database shared by a campaign: a folder (on shared storage for "
                      "many machines) or a Redis URL; a failure found anywhere replays first everywhere")
    conf.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                      help="search the generated properties for about SECONDS in all (shared among them and the "
                      "-n workers), in rounds; progress lines go to REPORT.progress.jsonl")
    conf.add_argument("--replay-only", action="store_true",
                      help="only replay the examples saved in --database; generate nothing")
    conf.add_argument("-k", dest="keyword", default=None, help="only cases matching this pytest -k expression")
    conf.add_argument("-q", "--quiet", action="store_true")
    conf.set_defaults(func=_cmd_conformance)

    rep = sub.add_parser("replay", help="rerun one case of a conformance report")
    rep.add_argument("report_dir")
    rep.add_argument("case_id")
    _factory_arg(rep)
    rep.set_defaults(func=_cmd_replay)

    plot = sub.add_parser("plot", help="draw a timeline of a scenario run (needs the plot extra)")
    plot.add_argument("scenario")
    plot.add_argument("-o", "--output", default="timeline.png")
    _factory_arg(plot)
    plot.set_defaults(func=_cmd_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # A factory named MODULE:CALLABLE is looked up from the current folder too (as pytest and
    # uvicorn do), so `--recorder-factory mypkg.rec:Factory` works from a project's root.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    parser = build_parser()
    args: Any = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
