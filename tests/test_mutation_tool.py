"""``mutation/run.py`` (``tox -e mutation``): the seeded site sample and the reading of the
conformance suite's summary line. The runs themselves take an hour (docs/conformance.md,
"Mutation testing")."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("cosmic_ray", reason="the mutation extra (cosmic-ray) is not installed")


def _tool():
    spec = importlib.util.spec_from_file_location("mutation_run", ROOT / "mutation" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["mutation_run"] = mod
    spec.loader.exec_module(mod)
    return mod


@dataclass(frozen=True)
class _Spec:
    module_path: str
    operator_name: str
    occurrence: int
    start_pos: tuple[int, int]


@dataclass(frozen=True)
class _Item:
    job_id: str
    mutations: tuple[_Spec, ...]


def test_the_sample_is_one_mutant_per_site_and_repeatable() -> None:
    run = _tool()
    items = [_Item(f"{m}-{line}-{op}", (_Spec(f"recorder/{m}.py", f"core/Op{op}", 0, (line, 4)),))
             for m in ("a", "b") for line in range(1, 21) for op in range(5)]
    first = run.sample_jobs(items, 10, seed=3)
    assert first == run.sample_jobs(list(reversed(items)), 10, seed=3)  # order of the session does not matter
    sites = {j.rsplit("-", 1)[0] for j in first}
    assert len(first) == len(sites) == 10
    assert first != run.sample_jobs(items, 10, seed=4)


@pytest.mark.parametrize("outcome, output, want", [
    ("killed", ".F\ncallsim conformance: FAIL 1, INFO 0, NON-STRICT 0, PASS 3, UNSUPPORTED 0 of 4 cases; report: r",
     "killed-fail"),
    # the current form: the counts under a "callsim conformance" rule line, unanswered cases as ERROR
    ("killed", "..F\n=== callsim conformance ===\nERROR 50, FAIL 1, INFO 0, NON-STRICT 0, PASS 175, UNSUPPORTED 0 "
     "of 226 cases in 5.5 s; report r", "killed-fail"),
    ("survived", "=== callsim conformance ===\nFAIL 0, INFO 2, NON-STRICT 0, PASS 224, UNSUPPORTED 0 of 226 cases "
     "in 9 s; report r", "flagged"),
    ("killed", "timeout", "timeout"),
    ("killed", "ERROR: usage", "killed-other"),
    ("survived", "callsim conformance: FAIL 0, INFO 2, NON-STRICT 0, PASS 9, UNSUPPORTED 0 of 11 cases; r", "flagged"),
    ("survived", "callsim conformance: FAIL 0, INFO 0, NON-STRICT 0, PASS 11, UNSUPPORTED 0 of 11 cases; r",
     "survived"),
])
def test_outcomes_are_read_from_the_suite_summary(outcome: str, output: str, want: str) -> None:
    from cosmic_ray.work_item import WorkResult

    run = _tool()
    got, _ = run._classify(WorkResult(worker_outcome="normal", output=output, test_outcome=outcome))
    assert got == want


def test_the_judge_line_names_each_grades_clauses(tmp_path: Path) -> None:
    run = _tool()
    index = tmp_path / "index.json"
    assert run.findings_line(index) == "findings: none"  # no report (the suite could not start)
    finding = {"grade": "NON-STRICT", "clauses": ["SD-HOLD"]}
    index.write_text(json.dumps({"cases": [
        {"id": "a", "findings": [finding, finding]},  # one case, counted once per clause
        {"id": "b", "findings": [{"grade": "NON-STRICT", "clauses": ["SD-HOLD", "SD-TIES"]},
                                 {"grade": "INFO", "clauses": ["SD-CODEC-OKI"]}]},
        {"id": "c", "findings": [{"grade": "FAIL", "clauses": ["SPEC-RECORD"]}]},
        {"id": "d", "findings": []}]}))
    line = run.findings_line(index)
    assert line == "findings: NON-STRICT SD-HOLD 2, SD-TIES 1; INFO SD-CODEC-OKI 1"
    assert run._findings_of("...\n" + line + "\n") == "NON-STRICT SD-HOLD 2, SD-TIES 1; INFO SD-CODEC-OKI 1"
    assert run._findings_of("FAIL 0 ...\nfindings: none\n") == ""


def _mutant(run, outcome: str, summary: str = "", before: str = "x = 1", after: str = "x = 2",
            module: str = "recorder/a.py"):
    diff = f"--- mutation diff ---\n--- a{module}\n+++ b{module}\n@@ -1 +1 @@\n-    {before}\n+    {after}\n"
    return run.Mutant("j", module, 1, "Op", outcome, summary, diff)


def test_the_targets_count_decisions_apart_and_untriaged_survivors_as_gaps(tmp_path: Path) -> None:
    run = _tool()
    mutants = [_mutant(run, "killed-fail", "FAIL 1, INFO 0, NON-STRICT 0") for _ in range(6)]
    mutants += [_mutant(run, "killed-other"),
                _mutant(run, "flagged", "FAIL 0, INFO 0, NON-STRICT 4"),  # a decision changed
                _mutant(run, "flagged", "FAIL 0, INFO 2, NON-STRICT 1"),  # a quality finding
                _mutant(run, "survived", before="y = 1", after="y = 0"),  # triaged equivalent
                _mutant(run, "survived", before="z = 1", after="z = 0"),  # triaged gap
                _mutant(run, "survived", before="w = 1", after="w = 0"),  # untriaged
                _mutant(run, "incompetent")]
    assert run.change_of(mutants[-2]) == ("w = 1", "w = 0")
    triage = tmp_path / "triage.toml"
    triage.write_text('[[mutant]]\nmodule = "recorder/a.py"\nbefore = "y = 1"\nafter = "y = 0"\n'
                      'verdict = "equivalent"\nreason = "r"\n\n'
                      '[[mutant]]\nmodule = "recorder/a.py"\nbefore = "z = 1"\nafter = "z = 0"\n'
                      'verdict = "gap"\nreason = "r"\n')
    got = run.targets(mutants, run.load_triage(triage))
    assert got["equivalent"] == 1 and got["untriaged_survivors"] == 1
    assert got["non_equivalent"] == 11  # 12 graded, 1 equivalent
    assert got["detected"] == 9 and got["detected_pct"] == round(100 * 9 / 11, 1)
    assert got["flagged_decision"] == 1 and got["flagged_quality"] == 1
    assert got["killed_by_fail"] == 6 and got["fail_base"] == 10 and got["killed_by_fail_pct"] == 60.0
    assert got["undecided_gaps"] == 0 and got["detected_pct_of_decidable"] == got["detected_pct"]
    # the triaged gap shown to change nothing the text or Q.24 decides: still a gap, counted apart
    text = triage.read_text()
    triage.write_text(text.replace('verdict = "gap"\n', 'verdict = "gap"\nundecided = true\nshown = "t.py::test_x"\n'))
    got = run.targets(mutants, run.load_triage(triage))
    assert got["detected"] == 9 and got["detected_pct"] == round(100 * 9 / 11, 1)
    assert got["undecided_gaps"] == 1 and got["detected_pct_of_decidable"] == 90.0  # 9 of 10
    assert got["killed_by_fail_pct_of_decidable"] == round(100 * 6 / 9, 1)
    rows = run.triage_table(mutants, run.load_triage(triage)).splitlines()
    assert any("| gap, undecided (shown: `test_x`) |" in r for r in rows)
    triage.write_text(text.replace('verdict = "gap"\n', 'verdict = "gap"\nundecided = true\n'))
    with pytest.raises(ValueError, match="undecided"):
        run.load_triage(triage)  # undecided without the test that shows it
    triage.write_text(text.replace('"gap"', '"maybe"'))
    with pytest.raises(ValueError, match="maybe"):
        run.load_triage(triage)


def test_the_projects_triage_reads_and_its_shown_equivalents_name_real_tests() -> None:
    run = _tool()
    for (module, before, after), entry in run.load_triage().items():
        assert (ROOT / module).is_file(), module
        assert before != after and entry["reason"].strip()
        if "shown" in entry:
            path, _, name = entry["shown"].partition("::")
            assert name in (ROOT / path).read_text(), entry["shown"]


def test_the_triage_table_gives_each_survivor_and_flag_its_verdict() -> None:
    run = _tool()
    mutants = [_mutant(run, "killed-fail", "FAIL 1"),
               _mutant(run, "flagged", "FAIL 0, INFO 0, NON-STRICT 4"),
               _mutant(run, "survived", before="y = 1", after="y = 0"),
               _mutant(run, "survived", before="a | b", after="a & b")]
    mutants[1].findings = "NON-STRICT SD-ARGS 4"
    triage = {("recorder/a.py", "y = 1", "y = 0"): {"verdict": "equivalent", "reason": "same", "shown": "t.py::test_x"}}
    rows = run.triage_table(mutants, triage).splitlines()
    assert len(rows) == 2 + 3  # the header, then the flag and the two survivors
    assert rows[2].endswith("| flagged (decision) | NON-STRICT SD-ARGS 4 |")
    assert "| equivalent (shown: `test_x`) | same |" in rows[3]
    assert "gap (untriaged)" in rows[4] and "`a \\| b`" in rows[4]  # a table cell's pipe escaped
