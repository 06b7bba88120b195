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


RUN_HELP = """\
examples:
  callsim run fixtures/scenarios/voicemail.toml                 # what happened, step by step
  callsim run fixtures/scenarios/voicemail.toml --json          # one JSON object
  callsim run fixtures/scenarios/voicemail.toml --out out --check
  callsim run fixtures/scenarios/voicemail.toml --check --recorder-factory mypkg.rec:MyRecorder
  (a report's replay files, report/replay/*, run the same way)

exit status:
  0  the scenario ran (with --check: and no finding FAILed)
  1  with --check: a finding FAILed
  2  a bad scenario file (one line on stderr: file: key: reason) or a bad --recorder-factory
"""

CONFORMANCE_HELP = """\
examples:
  callsim conformance --report report -n auto                  # the reference recorder
  callsim conformance --recorder-factory mypkg.rec:MyRecorder --report report -n auto
  callsim conformance --recorder-factory mypkg.rec:MyRecorder -k "limits/" -q
  callsim conformance --recorder-factory mypkg.rec:MyRecorder --xfail KNOWN_FAILURES_FILE

"""

REPLAY_HELP = """\
examples:
  callsim replay report limits/silence-basic                   # with the factory the report names
  callsim replay report limits/silence-basic --recorder-factory mypkg.rec:MyRecorder

exit status:
  0  the case does not fail now
  1  the case FAILs
  2  no report in the folder, no such case in it, or a bad --recorder-factory
"""

PLOT_HELP = """\
examples:
  callsim plot fixtures/scenarios/bargein-dtmf-in-file.toml -o /tmp/timeline.png
  callsim plot fixtures/scenarios/voicemail.toml -o /tmp/case.png --recorder-factory mypkg.rec:MyRecorder

exit status:
  0  the picture was written
  2  a bad scenario file or --recorder-factory, or matplotlib is missing (pip install 'callsim[plot]')
"""

MAIN_HELP = """\
examples:
  callsim conformance --report report -n auto        grade the reference recorder
  callsim conformance --recorder-factory mypkg.rec:MyRecorder --report report
  callsim run fixtures/scenarios/voicemail.toml      replay a scenario
  callsim plot fixtures/scenarios/voicemail.toml -o /tmp/timeline.png
  callsim replay report limits/silence-basic         rerun one case of a report

exit status: 0 success; 1 a case or finding FAILed; 2 bad usage or input (one line on stderr).
"callsim COMMAND --help" shows each command's options, examples and exit status.
"""


def _factory_arg(p: argparse.ArgumentParser, default: str = "the reference recorder, recorder:FileRecorder") -> None:
    p.add_argument(
        "--recorder-factory",
        metavar="MODULE:CALLABLE",
        default=os.environ.get("CALLSIM_RECORDER_FACTORY"),
        help=f"recorder factory factory(channel) -> recorder (default: $CALLSIM_RECORDER_FACTORY, else {default})",
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
    ciphered = any(dict(a.args).get("cipher") for a in scenario.actions)
    for info in result.files:
        if info["rate"] is None:  # not a WAV file: what the job's cipher made of one, or something else
            what = "encrypted (AES-CBC, the job had a cipher)" if ciphered else "not a WAV file"
            print(printable(f"file {info['name']}: {what}, {info['size']} bytes, sha256 {info['sha256'][:16]}..."))
            continue
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
    from . import __version__

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="callsim", formatter_class=raw, epilog=MAIN_HELP,
        description="A deterministic virtual call: replay scenarios, grade a call recorder against the spec.")
    parser.add_argument("--version", action="version", version=f"callsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a scenario file's action script", epilog=RUN_HELP, formatter_class=raw,
                         description="Run a scenario file's action script on a virtual call and print what happened.")
    run.add_argument("scenario", help="scenario TOML file")
    run.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    run.add_argument("--out", metavar="DIR", help="write the recorded files to DIR")
    run.add_argument("--log", metavar="FILE", help="write the event log as JSON to FILE")
    run.add_argument("--with-log", action="store_true", help="include the event log in --json output")
    run.add_argument("--check", action="store_true",
                     help="grade the run with the conformance oracle and the scenario's [expect] table; exit 1 on FAIL")
    _factory_arg(run)
    run.set_defaults(func=_cmd_run)

    conf = sub.add_parser("conformance", help="grade a recorder against the spec", epilog=CONFORMANCE_HELP + EXIT_STATUS,
                          formatter_class=raw, description="Grade a recorder against the spec: every case of "
                          "the suite, a report folder (index.html, index.json, junit.xml, replay files).")
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
    conf.add_argument("-k", dest="keyword", default=None, help="only cases matching this pytest -k expression")
    conf.add_argument("-q", "--quiet", action="store_true", help="print the summary and the root causes only")
    conf.set_defaults(func=_cmd_conformance)

    rep = sub.add_parser("replay", help="rerun one case of a conformance report", epilog=REPLAY_HELP,
                         formatter_class=raw, description="Rerun one case of a conformance report and grade it again.")
    rep.add_argument("report_dir", help="the report folder (--report of callsim conformance), holding index.json")
    rep.add_argument("case_id", help="the case's ID as the report names it, e.g. limits/silence-basic")
    _factory_arg(rep, "the factory the report names (index.json's factory), else the reference recorder")
    rep.set_defaults(func=_cmd_replay)

    plot = sub.add_parser("plot", help="draw a timeline of a scenario run (needs the plot extra)", epilog=PLOT_HELP,
                          formatter_class=raw, description="Draw the timeline of a scenario run: far-end audio, "
                          "digits, silence, call states, API calls and the recorder's state over virtual time.")
    plot.add_argument("scenario", help="scenario TOML file (a report's replay/*.toml too)")
    plot.add_argument("-o", "--output", default="timeline.png", metavar="FILE",
                      help="picture to write; PNG, or any format matplotlib knows by its suffix (default: timeline.png)")
    _factory_arg(plot)
    plot.set_defaults(func=_cmd_plot)

    from .importer.command import (
        add_parser as add_import_parser,  # `callsim import` (its own package)
    )

    add_import_parser(sub)
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
