"""``mutation/run.py`` (``tox -e mutation``): the seeded site sample and the reading of the
conformance suite's summary line. The runs themselves take an hour (docs/conformance.md,
"Mutation testing")."""

from __future__ import annotations

import importlib.util
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
