"""The ``callsim`` command line.

Sub-commands: ``run`` (replay a scenario file), ``conformance`` (grade a recorder against the
spec), ``replay`` (rerun one case of a conformance report), ``plot`` (timeline picture of a
scenario), ``host`` (serve a Python recorder factory over the wire protocol, docs/protocol.md).
``run``, ``conformance``, ``replay`` and ``plot`` take ``--recorder-command`` (a recorder
process in any language) and ``--isolate`` (the Python factory in a ``callsim host`` process). Exit status: 0 on success; ``conformance`` exits 1 when a case FAILs (or XPASSes
under strict expected failures); 2 for usage or input errors (an unknown factory; a bad scenario
file, reported on stderr as the one line ``file: key: reason``) and whenever ``conformance``
could not grade (see ``callsim conformance --help``); an unusable ``--out``, ``--log`` or
``-o`` path (``callsim.outpaths``) is one line and exit 2 before anything runs. ``run`` exits 1
when the implementation itself fails outside an action (its factory raises or returns None, or
its ``state()``, ``cause()`` or ``audio_detected_in_recording()`` raises after the script): one
line names the method, the exception's type and its message. No user mistake shows a traceback;
``callsim --debug ...`` shows the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
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
  1  with --check: a finding FAILed; or the implementation itself failed outside an action (its
     factory raised or returned None, a final getter raised: one line names it)
  2  a bad scenario file (one line on stderr: file: key: reason), a bad --recorder-factory or
     --recorder-command, or an unusable --out/--log path
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
  callsim conformance --recorder-command "node examples/js-recorder/recorder.js" --report report
  callsim import fixtures/captures/customer-call.pcapng -o customer-call.toml

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
    _command_args(p)


def _command_args(p: argparse.ArgumentParser) -> None:
    """The wire protocol's options (docs/protocol.md): a recorder in another process."""
    p.add_argument("--recorder-command", metavar='"CMD ARGS"', default=None,
                   help="run the recorder under test as this command, speaking the wire protocol on "
                   "stdin/stdout (docs/protocol.md); a fresh process per case")
    p.add_argument("--isolate", action="store_true",
                   help="run the Python factory (--recorder-factory, or the reference) in a `callsim host` "
                   "process behind the wire protocol instead of in this process")
    p.add_argument("--reply-timeout", type=float, default=None, metavar="SECONDS",
                   help="wall-clock seconds a recorder process has for each message of a reply (default: 10)")


def _resolver(args: Any) -> Any:
    """``resolve(spec, command=None)``: the factory the options name (callsim.wiring.resolve_recorder)."""
    from .wiring import resolve_recorder

    def resolve(spec: str | None, command: str | None = None) -> Any:
        return resolve_recorder(spec, command=command or getattr(args, "recorder_command", None),
                                isolate=bool(getattr(args, "isolate", False)),
                                reply_timeout=getattr(args, "reply_timeout", None))

    return resolve


def _cmd_run(args: argparse.Namespace) -> int:
    from simulator.runner import RecorderFailed, run_scenario
    from simulator.scenario import ScenarioError, load_scenario

    from .outpaths import check_file_target, prepare_folder, write_file, write_into

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:  # the scenario's own error: one line "file: key: reason"
        print(exc, file=sys.stderr)
        return 2
    try:
        factory = _resolver(args)(args.recorder_factory)
    except (ValueError, ImportError, AttributeError) as exc:
        print(f"callsim run: {exc}", file=sys.stderr)
        return 2
    # the output paths are checked before the run: a bad one changes nothing
    if args.log:
        check_file_target(args.log, option="--log")
    if args.out:
        prepare_folder(args.out, option="--out")

    def save(contents: dict[str, bytes], log: list[dict[str, Any]]) -> None:
        for name, data in contents.items() if args.out else ():
            write_into(args.out, name, data, option="--out")
        if args.log:
            write_file(args.log, (json.dumps(log, indent=1, sort_keys=True) + "\n").encode(), option="--log")

    if args.check:
        from conformance.cli import check_scenario_run, print_findings
        from conformance.grades import worst

        code, findings, result = check_scenario_run(scenario, factory)
        save(result.contents, result.log)
        if args.json:
            doc = result.to_json(with_log=args.with_log)
            doc["grade"] = worst([f.grade for f in findings]).value
            doc["findings"] = [f.to_json() for f in findings if f.grade.value != "PASS"]
            print(json.dumps(doc, sort_keys=True))
        else:
            print_findings(args.scenario, findings)
        return code
    try:
        result = run_scenario(scenario, factory)
    except RecorderFailed as exc:  # the implementation's failure, not the user's
        from .textsafe import printable

        print(printable(f"callsim run: the implementation failed: {exc}"), file=sys.stderr)
        return 1
    save(result.contents, result.log)
    if args.json:
        print(json.dumps(result.to_json(with_log=args.with_log), sort_keys=True))
        return 0
    from .textsafe import printable  # what the recorder returned is shown, never obeyed

    print(printable(f"scenario {args.scenario} (seed {scenario.seed})"))
    for s in result.steps:
        outcome = f"raised {s.raised}" if s.raised else f"-> {s.returned}"
        print(printable(f"  {s.at_ms:>10.1f} ms  {s.call:<28} {outcome}  (until {s.end_ms:.1f} ms)"))
        if s.raised in ("SimulationLimit", "Deadlock") and s.message:
            print(printable(f"  {'':>10}     {s.message}"))
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


def _cmd_conformance(args: argparse.Namespace) -> int:
    from conformance.cli import run_conformance

    return run_conformance(args, _resolver(args))


def _cmd_replay(args: argparse.Namespace) -> int:
    from conformance.cli import run_replay

    return run_replay(args, _resolver(args))


def _cmd_host(args: argparse.Namespace) -> int:
    """``callsim host MODULE:CALLABLE``: serve a Python factory over the wire protocol."""
    from .protocol.host import protect_stdout, serve
    from .wiring import FactoryError, load_factory

    out = protect_stdout()  # before the factory's module is imported: its prints go to stderr
    try:
        factory = load_factory(args.factory)
    except FactoryError as exc:
        print(f"callsim host: {exc}", file=sys.stderr)
        return 2
    module = sys.modules.get(args.factory.partition(":")[0])
    return serve(factory, out, name=args.factory, version=str(getattr(module, "__version__", "") or ""))


def _cmd_plot(args: argparse.Namespace) -> int:
    from .plot import plot_scenario

    try:
        factory = _resolver(args)(getattr(args, "recorder_factory", None))
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
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error (default: one line, exit 2)")
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
    conf.add_argument("--database", metavar="DIR|redis://HOST:PORT/DB", default=None,
                      help="hypothesis example database shared by a campaign: a folder (on shared storage for "
                      "many machines) or a Redis URL; a failure found anywhere replays first everywhere")
    conf.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                      help="search the generated properties for about SECONDS in all (shared among them and the "
                      "-n workers), in rounds; progress lines go to REPORT.progress.jsonl")
    conf.add_argument("--replay-only", action="store_true",
                      help="only replay the examples saved in --database; generate nothing")
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

    host = sub.add_parser("host", help="serve a Python recorder factory over the wire protocol on stdin/stdout "
                          "(docs/protocol.md)")
    host.add_argument("factory", metavar="MODULE:CALLABLE", help="the recorder factory to serve")
    host.set_defaults(func=_cmd_host)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # A factory named MODULE:CALLABLE is looked up from the current folder too (as pytest and
    # uvicorn do), so `--recorder-factory mypkg.rec:Factory` works from a project's root.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    parser = build_parser()
    args: Any = parser.parse_args(argv)
    from simulator.scenario import ScenarioError

    from .outpaths import OutputPathError
    from .protocol import ProtocolError
    from .textsafe import printable

    try:
        return int(args.func(args))
    except (OutputPathError, ScenarioError) as exc:  # the user's mistake: one line, exit 2
        print(printable(f"callsim {args.command}: {exc}"), file=sys.stderr)
        return 2
    except ProtocolError as err:  # a recorder process broke the wire protocol outside a guarded case
        print(printable(f"callsim {args.command}: FAIL [{err.clause}] the recorder process broke the protocol: "
                        f"{err.describe()}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"callsim {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(printable(f"callsim {args.command}: unexpected error: {type(exc).__name__}: {exc} "
                        "(callsim --debug shows the traceback)"), file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
