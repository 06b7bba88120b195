"""Mutation testing of ``recorder/`` against the conformance suite alone (``tox -e mutation``).

cosmic-ray (a maintained mutation tool that takes any test command and keeps each session in a
resumable sqlite file) enumerates every mutant of ``recorder/``; this script samples them, splits
the sample into shards that run side by side, each in its own copy of the tree (cosmic-ray mutates
files in place, so the checkout you work in is never touched), and reports the score.

The test command is ``pytest --pyargs conformance -x``: the conformance suite grading the mutated
reference, nothing from ``tests/``. ``-x`` stops at the first failing case (a killed mutant costs
seconds, not the whole suite); a survivor runs every case, and the suite's summary line (kept in
cosmic-ray's session with the command's output) says whether it drew a NON-STRICT or INFO finding.

Sampling: the mutants are grouped by site (module and position), ``--sample`` sites are drawn with
``random.Random(--seed)`` and one operator is drawn at each site, so the eleven operator swaps of
one ``*`` count once, not eleven times. Every mutant outside the sample is marked skipped.

Verdicts: each mutant's test command is this script's ``--judge`` mode, which runs the suite and
adds a line naming the clauses of its NON-STRICT and INFO findings, so a flagged mutant is known
as a changed *decision* (NON-STRICT only: counted apart from the FAIL target) or a *quality*
finding (INFO). ``--report`` reads ``mutation/triage.toml`` (each survivor's verdict: equivalent
or gap, with the reason) and prints the two target figures over the non-equivalent mutants.

Resuming: run the same command again; finished mutants are kept (the sample, the seed, the shard
count and the commit of the tree are recorded in ``meta.json``; a different request needs
``--fresh``). ``--report`` only prints the figures of what has run.

Usage::

    python mutation/run.py [--sample 150] [--seed 14] [--shards 2] [--workdir .mutation]
                           [--timeout 240] [--fresh] [--report] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "mutation" / "cosmic-ray.toml"
#: ``--callsim-case-timeout``: a mutant that makes the recorder loop is FAILed by the suite's
#: own guard ("the recorder did not return within 60 s") well inside cosmic-ray's timeout per
#: mutant, instead of being cut off as a bare timeout (the reference's slowest case takes seconds)
CASE_TIMEOUT = 60
SUITE_COMMAND = ("{python} -m pytest --pyargs conformance -x -q -p no:cacheprovider -o addopts= "
                 "--no-header -W ignore::DeprecationWarning --callsim-report {report} "
                 f"--callsim-case-timeout {CASE_TIMEOUT}")
#: what cosmic-ray runs on each mutant: the suite (SUITE_COMMAND) through ``--judge``, which adds
#: one line naming the clauses of its findings (the count line alone cannot tell a changed decision
#: from a quality finding)
TEST_COMMAND = "{python} mutation/run.py --judge {report}"
#: the line ``--judge`` adds: "findings: NON-STRICT SD-HOLD 52, SD-SIZE 3; INFO SD-CODEC-OKI 3"
FINDINGS = re.compile(r"(?m)^findings: (.*)$")
#: the triage of survivors and flagged mutants (equivalent, gap, ...), read by --report
TRIAGE = ROOT / "mutation" / "triage.toml"
#: cosmic-ray from the running interpreter (the tox env's, not whichever is first on PATH)
COSMIC_RAY = (sys.executable, "-m", "cosmic_ray.cli")
#: the suite's count line, "FAIL 1, INFO 0, NON-STRICT 0, PASS 175, ... of 226 cases" (under a
#: "callsim conformance" rule line; older versions printed it after "callsim conformance: ")
SUMMARY = re.compile(r"((?:[A-Z][A-Z-]* \d+, )*[A-Z][A-Z-]* \d+) of (\d+) cases")


def judge(report: Path, extra: list[str]) -> int:
    """Run the suite on the tree in the working directory (the mutated one), print its output,
    then one line naming the clauses of its NON-STRICT and INFO findings, from the report's
    ``index.json``; the exit status is the suite's."""
    command = SUITE_COMMAND.format(python=sys.executable, report=report).split() + extra
    r = subprocess.run(command, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    print(findings_line(report / "index.json"))
    return r.returncode


def findings_line(index_json: Path) -> str:
    """``findings: NON-STRICT SD-HOLD 52, SD-SIZE 3; INFO SD-CODEC-OKI 3`` (cases per clause, each
    grade's findings in one part; ``findings: none`` when there are none or no report)."""
    try:
        cases = json.loads(index_json.read_text())["cases"]
    except (OSError, ValueError, KeyError):
        return "findings: none"
    per: dict[str, Counter[str]] = {}
    for case in cases:
        seen = {(f["grade"], c) for f in case.get("findings", ()) if f.get("grade") in ("NON-STRICT", "INFO")
                for c in f.get("clauses", ())}
        for grade, clause in seen:
            per.setdefault(grade, Counter())[clause] += 1
    parts = [f"{grade} " + ", ".join(f"{c} {n}" for c, n in sorted(per[grade].items()))
             for grade in ("NON-STRICT", "INFO") if grade in per]
    return "findings: " + ("; ".join(parts) or "none")


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def _head() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "recorder", "conformance"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return out.stdout.strip() + ("+dirty" if dirty else "")


def _copy_tree(dest: Path) -> None:
    for rel in _tracked_files():
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _config_text(report: Path, timeout: float) -> str:
    command = TEST_COMMAND.format(python=sys.executable, report=report)
    text = CONFIG.read_text()
    text = re.sub(r"(?m)^test-command = .*$", f"test-command = {json.dumps(command)}", text)
    return re.sub(r"(?m)^timeout = .*$", f"timeout = {float(timeout)}", text)


def sample_jobs(items: list, size: int, seed: int) -> list[str]:
    """The job ids of the sample: ``size`` sites drawn with ``seed``, one operator at each."""
    sites: dict[tuple, list] = {}
    for item in items:
        m = item.mutations[0]
        sites.setdefault((str(m.module_path), tuple(m.start_pos)), []).append(item)
    rng = random.Random(seed)
    keys = sorted(sites)
    chosen = rng.sample(keys, min(size, len(keys)))
    out = []
    for key in sorted(chosen):
        group = sorted(sites[key], key=lambda i: (i.mutations[0].operator_name, i.mutations[0].occurrence))
        out.append(rng.choice(group).job_id)
    return out


def _prepare(args: argparse.Namespace, workdir: Path) -> None:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    meta = {"sample": args.sample, "seed": args.seed, "shards": args.shards, "commit": _head()}
    meta_path = workdir / "meta.json"
    if meta_path.exists() and not args.fresh:
        old = json.loads(meta_path.read_text())
        if old != meta:
            sys.exit(f"mutation/run.py: {workdir} holds another run ({old}); give --fresh to replace it")
        return
    if workdir.exists() and any(workdir.iterdir()):
        if not meta_path.exists():
            sys.exit(f"mutation/run.py: {workdir} is not empty and holds no mutation run; give a new or empty --workdir")
        shutil.rmtree(workdir)  # --fresh over an earlier run of ours
    workdir.mkdir(parents=True, exist_ok=True)
    first = None
    for k in range(args.shards):
        shard = workdir / f"shard-{k}"
        tree = shard / "tree"
        tree.mkdir(parents=True)
        _copy_tree(tree)
        (shard / "cosmic-ray.toml").write_text(_config_text(shard / "report", args.timeout))
        if first is None:
            first = workdir / "all-mutants.sqlite"
            subprocess.run([*COSMIC_RAY, "init", str(shard / "cosmic-ray.toml"), str(first)],
                           cwd=tree, check=True)
            with use_db(str(first), WorkDB.Mode.open) as db:
                items = list(db.work_items)
            chosen = sample_jobs(items, args.sample, args.seed)
            meta["mutants_total"] = len(items)
            meta["sites_total"] = len({(str(i.mutations[0].module_path), tuple(i.mutations[0].start_pos)) for i in items})
        shutil.copy2(first, shard / "session.sqlite")
        mine = set(chosen[k::args.shards])
        with use_db(str(shard / "session.sqlite"), WorkDB.Mode.open) as db:
            skip = [i.job_id for i in db.pending_work_items if i.job_id not in mine]
            db.set_multiple_results(skip, WorkResult(output="not in this shard's sample",
                                                     worker_outcome=WorkerOutcome.SKIPPED))
    meta_path.write_text(json.dumps(meta, indent=1))


def _execute(args: argparse.Namespace, workdir: Path) -> None:
    procs = []
    for k in range(args.shards):
        shard = workdir / f"shard-{k}"
        env = dict(os.environ, PYTHONPATH=str(shard / "tree"), PYTHONHASHSEED="0",
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        log = open(shard / "exec.log", "a")  # noqa: SIM115 (closed below)
        procs.append((subprocess.Popen([*COSMIC_RAY, "exec", str(shard / "cosmic-ray.toml"),
                                        str(shard / "session.sqlite")],
                                       cwd=shard / "tree", env=env, stdout=log, stderr=subprocess.STDOUT), log))
    start = time.monotonic()
    while any(p.poll() is None for p, _ in procs):
        time.sleep(30)
        results = collect(workdir)
        print(f"[{time.monotonic() - start:6.0f} s] {len(results)} of {_sample_size(workdir)} mutants run",
              flush=True)
    for p, log in procs:
        log.close()
        if p.returncode:
            sys.exit(f"mutation/run.py: cosmic-ray exec ended with status {p.returncode}; see {workdir}/shard-*/exec.log")


def _sample_size(workdir: Path) -> int:
    from cosmic_ray.work_db import WorkDB, use_db

    n = 0
    for session in sorted(workdir.glob("shard-*/session.sqlite")):
        with use_db(str(session), WorkDB.Mode.open) as db:
            n += sum(1 for _, r in db.results if r.worker_outcome != "skipped") + db.num_work_items - db.num_results
    return n


@dataclass
class Mutant:
    job_id: str
    module: str
    line: int
    operator: str
    outcome: str  # killed-fail, killed-other, timeout, flagged, survived, incompetent
    summary: str
    diff: str
    findings: str = ""  # the --judge line's clauses, "NON-STRICT SD-HOLD 52; INFO ..."


def _counts(summary: str) -> dict[str, int]:
    """The grades of a count line, ``{"FAIL": 0, "INFO": 2, ...}``."""
    return {name: int(n) for name, n in re.findall(r"([A-Z][A-Z-]*) (\d+)", summary)}


def _classify(result) -> tuple[str, str]:
    out = result.output or ""
    m = SUMMARY.search(out)
    summary = m.group(1) if m else ""
    counts = _counts(summary)
    if result.test_outcome == "incompetent":
        return "incompetent", out[-300:]
    if result.test_outcome == "killed":
        if out.strip() == "timeout":
            return "timeout", "timeout"
        return ("killed-fail" if counts.get("FAIL", 0) else "killed-other"), summary or out.strip()[-200:]
    if counts.get("NON-STRICT", 0) or counts.get("INFO", 0):
        return "flagged", summary
    return "survived", summary


def _findings_of(output: str) -> str:
    m = FINDINGS.search(output or "")
    return m.group(1) if m and m.group(1) != "none" else ""


def flag_kind(m: Mutant) -> str:
    """A flagged mutant's kind: ``decision`` when its findings are NON-STRICT only (a decision the
    text leaves open changed: counted apart from the FAIL target), ``quality`` when one is INFO."""
    return "quality" if _counts(m.summary).get("INFO", 0) else "decision"


def collect(workdir: Path) -> list[Mutant]:
    """Every finished, sampled mutant of the run in ``workdir``."""
    from cosmic_ray.work_db import WorkDB, use_db

    out = []
    for session in sorted(workdir.glob("shard-*/session.sqlite")):
        with use_db(str(session), WorkDB.Mode.open) as db:
            items = {i.job_id: i for i in db.work_items}
            for job_id, result in db.results:
                if result.worker_outcome == "skipped":
                    continue
                m = items[job_id].mutations[0]
                outcome, summary = _classify(result)
                out.append(Mutant(job_id, str(m.module_path), m.start_pos[0], m.operator_name.split("/")[-1],
                                  outcome, summary, result.diff or "", _findings_of(result.output)))
    return sorted(out, key=lambda m: (m.module, m.line, m.operator))


def report(workdir: Path, json_path: Path | None, markdown_path: Path | None = None) -> dict:
    mutants = collect(workdir)
    meta = json.loads((workdir / "meta.json").read_text())
    figures = _figures(meta, mutants)
    rechecked_path = workdir / "recheck.json"
    if rechecked_path.exists():
        redone = json.loads(rechecked_path.read_text())
        mutants = [replace(m, outcome=redone[m.job_id]["outcome"], summary=redone[m.job_id]["summary"],
                           findings=redone[m.job_id].get("findings", ""))
                   if m.job_id in redone else m for m in mutants]
        figures = {"first_run": figures, "after_recheck": _figures(meta, mutants), "rechecked": len(redone)}
    print(json.dumps(figures, indent=1))
    triage = load_triage()
    for m in mutants:
        if m.outcome in ("survived", "flagged"):
            entry = triage.get((m.module, *change_of(m)))
            verdict = f" triaged {entry['verdict']}" if entry else (" UNTRIAGED" if m.outcome == "survived" else "")
            kind = f" ({flag_kind(m)}: {m.findings})" if m.outcome == "flagged" else ""
            print(f"\n## {m.outcome}{kind}{verdict} {m.module}:{m.line} {m.operator} [{m.job_id}] {m.summary}")
            print("\n".join(line for line in m.diff.splitlines() if line.startswith(("+", "-"))
                            and not line.startswith(("+++", "---"))))
    if json_path:
        json_path.write_text(json.dumps({"figures": figures, "mutants": [asdict(m) for m in mutants]}, indent=1))
    if markdown_path:
        markdown_path.write_text(triage_table(mutants, triage))
    return figures


def triage_table(mutants: list[Mutant], triage: dict[tuple[str, str, str], dict]) -> str:
    """The docs' triage table: every survivor and flagged mutant, its verdict and the reason."""
    rows = ["| where | change | verdict | reason |", "| --- | --- | --- | --- |"]
    for m in mutants:
        if m.outcome not in ("survived", "flagged"):
            continue
        before, after = change_of(m)
        entry = triage.get((m.module, before, after))
        if m.outcome == "flagged":
            verdict = f"flagged ({flag_kind(m)})"
            reason = m.findings or m.summary
        elif entry is None:
            verdict, reason = "gap (untriaged)", ""
        else:
            shown = f"shown: `{entry['shown'].split('::')[-1]}`" if "shown" in entry else "argued"
            verdict = (f"gap, undecided ({shown})" if entry.get("undecided") else
                       "gap" if entry["verdict"] == "gap" else f"{entry['verdict']} ({shown})")
            reason = entry["reason"]
        change = f"`{before[:90]}` -> `{after[:90]}`".replace("|", "\\|")
        rows.append(f"| `{m.module.removeprefix('recorder/')}:{m.line}` | {change} | {verdict} | {reason.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


def change_of(m: Mutant) -> tuple[str, str]:
    """The mutated line before and after (stripped): with the module, what a triage entry names
    (line numbers and cosmic-ray's job ids change from run to run; the code does not)."""
    body = [ln for ln in m.diff.splitlines() if not ln.startswith(("+++", "---"))]
    before = " ".join(ln[1:].strip() for ln in body if ln.startswith("-"))
    after = " ".join(ln[1:].strip() for ln in body if ln.startswith("+"))
    return before, after


def load_triage(path: Path = TRIAGE) -> dict[tuple[str, str, str], dict]:
    """``mutation/triage.toml``: one ``[[mutant]]`` table per triaged change (``module``, ``before``,
    ``after``, ``verdict``: ``equivalent`` (``shown`` names the test that shows it, else argued)
    or ``gap``, and ``reason``). A gap may be ``undecided = true``: a test (``shown``) shows that
    the mutant decides every input the text or ITU-T Q.24 decides as the original does, so no
    fair check can see it; it stays a gap in the two figures and is counted apart beside them."""
    import tomllib

    if not path.exists():
        return {}
    out = {}
    for entry in tomllib.loads(path.read_text()).get("mutant", []):
        if entry["verdict"] not in ("equivalent", "gap"):
            raise ValueError(f"{path}: verdict {entry['verdict']!r} is neither 'equivalent' nor 'gap'")
        if entry.get("undecided") and (entry["verdict"] != "gap" or "shown" not in entry):
            raise ValueError(f"{path}: an undecided mutant is a gap with a test that shows it ({entry['after']!r})")
        out[(entry["module"], entry["before"], entry["after"])] = entry
    return out


def targets(mutants: list[Mutant], triage: dict[tuple[str, str, str], dict]) -> dict:
    """The issue's two figures over the non-equivalent mutants: *detected* (killed, or flagged by
    a NON-STRICT or INFO finding) and *killed by a FAIL*, the latter over the mutants that did not
    only change a decision (flagged NON-STRICT only: the text allows their behaviour, so no FAIL
    may be given; counted apart). A survivor nobody triaged counts as a gap until it is."""
    equivalent = untriaged = undecided = 0
    for m in mutants:
        if m.outcome == "survived":
            entry = triage.get((m.module, *change_of(m)))
            if entry is None:
                untriaged += 1
            elif entry["verdict"] == "equivalent":
                equivalent += 1
            elif entry.get("undecided"):
                undecided += 1
    graded = [m for m in mutants if m.outcome != "incompetent"]
    non_equivalent = len(graded) - equivalent
    detected = sum(1 for m in graded if m.outcome != "survived")
    decisions = sum(1 for m in graded if m.outcome == "flagged" and flag_kind(m) == "decision")
    fails = sum(1 for m in graded if m.outcome == "killed-fail")
    base = non_equivalent - decisions
    return {
        "equivalent": equivalent, "untriaged_survivors": untriaged, "non_equivalent": non_equivalent,
        "detected": detected, "detected_pct": round(100 * detected / non_equivalent, 1) if non_equivalent else None,
        "flagged_decision": decisions, "flagged_quality": sum(1 for m in graded if m.outcome == "flagged") - decisions,
        "killed_by_fail": fails, "fail_base": base,
        "killed_by_fail_pct": round(100 * fails / base, 1) if base else None,
        "killed_by_fail_pct_of_all_non_equivalent": round(100 * fails / non_equivalent, 1) if non_equivalent else None,
        # beside the two figures: the gaps shown to change only what neither the text nor Q.24 decides
        "undecided_gaps": undecided,
        "detected_pct_of_decidable": (round(100 * detected / (non_equivalent - undecided), 1)
                                      if non_equivalent > undecided else None),
        "killed_by_fail_pct_of_decidable": round(100 * fails / (base - undecided), 1) if base > undecided else None,
    }


def _figures(meta: dict, mutants: list[Mutant]) -> dict:
    counts = Counter(m.outcome for m in mutants)
    graded = len(mutants) - counts["incompetent"]
    killed = counts["killed-fail"] + counts["killed-other"] + counts["timeout"]
    figures = {
        **meta, "run": len(mutants), "graded": graded, **{k: counts[k] for k in
        ("killed-fail", "killed-other", "timeout", "flagged", "survived", "incompetent")},
        "killed_pct": round(100 * killed / graded, 1) if graded else None,
        "killed_by_fail_pct": round(100 * counts["killed-fail"] / graded, 1) if graded else None,
        "detected_pct": round(100 * (killed + counts["flagged"]) / graded, 1) if graded else None,
        "targets": targets(mutants, load_triage()),
    }
    return figures


def recheck(args: argparse.Namespace, workdir: Path) -> dict:
    """Run the survivors (and flagged and timed-out mutants) of the run in ``workdir`` again, against the
    current tree: each mutant's diff is applied to a fresh copy, the test command run, the file
    restored. Results go to ``workdir/recheck.json`` (resumable: done mutants are kept), and the
    figures are printed with the rechecked outcomes in place of the first ones."""
    mutants = collect(workdir)
    todo = [m for m in mutants if m.outcome in ("survived", "flagged", "timeout")
            and (not args.modules or any(m.module.endswith(x) for x in args.modules.split(",")))]
    out_path = workdir / "recheck.json"
    done: dict[str, dict] = json.loads(out_path.read_text()) if out_path.exists() else {}
    tree = workdir / "recheck-tree"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir()
    _copy_tree(tree)
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    command = TEST_COMMAND.format(python=sys.executable, report=workdir / "recheck-report").split()
    command[1] = str(tree / "mutation" / "run.py")
    if args.keyword:
        command += ["-k", args.keyword]
    from cosmic_ray.work_item import WorkResult

    for m in todo:
        if m.job_id in done:
            continue
        diff = m.diff.split("\n", 1)[1] if m.diff.startswith("--- mutation diff ---") else m.diff
        target = tree / m.module
        original = target.read_bytes()
        applied = subprocess.run(["patch", "-p1", "-d", str(tree), "-s", "--no-backup-if-mismatch"],
                                 input=diff + "\n", text=True, capture_output=True)
        if applied.returncode:
            done[m.job_id] = {"outcome": "incompetent", "summary": "the diff no longer applies"}
        else:
            try:
                r = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=args.timeout)
                result = WorkResult(worker_outcome="normal", output=r.stdout,
                                    test_outcome="killed" if r.returncode else "survived")
            except subprocess.TimeoutExpired:
                result = WorkResult(worker_outcome="normal", output="timeout", test_outcome="killed")
            finally:
                target.write_bytes(original)
            outcome, summary = _classify(result)
            done[m.job_id] = {"outcome": outcome, "summary": summary, "findings": _findings_of(result.output)}
        out_path.write_text(json.dumps(done, indent=1))
        print(f"recheck {m.module}:{m.line} {m.operator}: {m.outcome} -> {done[m.job_id]['outcome']}", flush=True)
    return done


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--judge"] and len(argv) >= 2:  # internal: the test command of each mutant
        return judge(Path(argv[1]), argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=150, help="mutation sites to sample (default 150)")
    ap.add_argument("--seed", type=int, default=14, help="seed of the sample (default 14)")
    ap.add_argument("--shards", type=int, default=2, help="copies of the tree run side by side (default 2)")
    ap.add_argument("--workdir", type=Path, default=ROOT / ".mutation", help="sessions and tree copies")
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds per mutant before it counts as killed")
    ap.add_argument("--fresh", action="store_true", help="discard a previous run in --workdir")
    ap.add_argument("--report", action="store_true", help="only print the figures of what has run")
    ap.add_argument("--json", type=Path, help="also write the figures and every mutant as JSON")
    ap.add_argument("--markdown", type=Path, help="also write the triage table of survivors and flagged mutants "
                    "(docs/conformance.md's form, verdicts from mutation/triage.toml)")
    ap.add_argument("--recheck", action="store_true",
                    help="run the run's survivors again against the current tree (after closing gaps)")
    ap.add_argument("--modules", help="--recheck only mutants of these modules (comma-separated, e.g. g711.py,oki.py)")
    ap.add_argument("-k", dest="keyword", help="--recheck with only the cases matching this pytest -k expression "
                    "(quicker; a survivor there may still be killed by the whole suite)")
    args = ap.parse_args(argv)
    if args.sample < 1 or args.shards < 1:
        ap.error("--sample and --shards must be at least 1")
    workdir = args.workdir.resolve()
    if args.recheck:
        if not (workdir / "meta.json").exists():
            ap.error(f"no run in {workdir}")
        recheck(args, workdir)
        report(workdir, args.json, args.markdown)
        return 0
    if not args.report:
        _prepare(args, workdir)
        _execute(args, workdir)
    if not (workdir / "meta.json").exists():
        ap.error(f"no run in {workdir}")
    report(workdir, args.json, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
