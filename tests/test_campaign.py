"""Deep campaigns (``conformance.campaign``): one hypothesis example database shared by processes
(and machines), a time budget, progress per property.

* two processes share one database folder: the first finds a faulty recorder's failure and saves
  it; the second, told to generate nothing (``--replay-only``), replays it and FAILs at once,
  while the same replay against an empty database passes (so the failure came from the first);
* bad campaign options are one line and exit status 2;
* the rounds of a budgeted property fold into one case result; every property has its own key.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.campaign import Campaign, _merge, read_progress, run_property
from conformance.grades import CaseResult, Finding, Grade
from conformance.properties import PROPERTIES, settings_for

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
for _k in [k for k in ENV if k.startswith("PYTEST_") or k == "CALLSIM_RECORDER_FACTORY"]:
    del ENV[_k]  # a run of our own is not a pytest-xdist worker

FAULTY = "tests.faulty:SizeOneFrameOver"  # writes one frame past max_bytes: SPEC-SIZE
PROPERTY = "property/cause-size"


def _conformance(tmp: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callsim", "conformance", "--profile", "deep", "-k", PROPERTY,
         "--recorder-factory", FAULTY, "--report", str(tmp / name), "-q", *extra],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)


def test_a_failure_found_by_one_process_replays_in_another(tmp_path: Path) -> None:
    db = tmp_path / "shared-db"
    first = _conformance(tmp_path, "r1", "--database", str(db))
    assert first.returncode == 1, first.stdout + first.stderr
    assert f"FAIL {PROPERTY}" in first.stdout and any(db.rglob("*")), "the first process saved nothing"

    second = _conformance(tmp_path, "r2", "--database", str(db), "--replay-only")
    assert second.returncode == 1, second.stdout + second.stderr
    assert f"FAIL {PROPERTY}" in second.stdout and "SPEC-SIZE" in second.stdout
    progress = read_progress(tmp_path / "r2.progress.jsonl")
    assert progress[PROPERTY]["failures"] == 1
    assert "campaign:" in second.stdout and "1 failure(s) found" in second.stdout
    found = json.loads((tmp_path / "r2" / "index.json").read_text())
    assert [c["grade"] for c in found["cases"]] == ["FAIL"]

    # control: replaying an empty database generates nothing, so nothing fails
    control = _conformance(tmp_path, "r3", "--database", str(tmp_path / "empty-db"), "--replay-only")
    assert control.returncode == 0, control.stdout + control.stderr


@pytest.mark.parametrize("argv, message", [
    (["--budget", "0"], "--budget 0.0: give a positive number of seconds"),
    (["--replay-only"], "--replay-only needs --database"),
    (["--database", "/proc/callsim-no/db"], "--database '/proc/callsim-no/db': cannot use the folder"),
])
def test_bad_campaign_options_are_one_line_and_exit_2(argv: list[str], message: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from callsim.cli import main

    assert main(["conformance", "--report", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(importlib.util.find_spec("redis") is not None, reason="the redis package is installed")
def test_a_redis_database_without_the_package_says_what_to_install() -> None:
    from conformance.campaign import CampaignError, open_database

    with pytest.raises(CampaignError, match="pip install redis"):
        open_database("redis://localhost:6379/0")


def test_every_property_has_its_own_database_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The properties' hypothesis tests are closures with one source: without their own keys
    they would share one entry in the database and replay each other's examples."""
    import conformance.properties as P
    from conformance.capabilities import Capabilities

    seen: list[bytes] = []
    monkeypatch.setattr(P, "run_tracked", lambda res, tr, test, target: seen.append(
        test._hypothesis_internal_database_key) or res)
    scenario_props = [p for p in PROPERTIES if p.id.startswith("property/")]
    for prop in scenario_props:
        prop.run(None, Capabilities(), settings_for("ci"))  # the spy returns before any example
    assert [k.decode().rsplit(":", 1)[1] for k in seen] == [p.id for p in scenario_props]


def test_rounds_fold_into_one_result() -> None:
    clauses = ("SPEC-SIZE",)
    soft = Finding(Grade.NON_STRICT, clauses, "a soft one")

    def round_(n: int, fail: bool = False) -> CaseResult:
        r = CaseResult("p", clauses)
        r.findings = [soft, Finding(Grade.PASS, clauses, f"{n} examples", {"examples": n, "reached": {"SIZE": n}})]
        if fail:
            r.findings.insert(0, Finding(Grade.FAIL, clauses, "boom"))
            r.scenario_toml = "x"
        return r

    merged = _merge([round_(40), round_(40), round_(7, fail=True)], "p", clauses)
    assert merged.grade is Grade.FAIL and merged.scenario_toml == "x"
    passed = [f for f in merged.findings if f.grade is Grade.PASS][0]
    assert passed.evidence["examples"] == 87 and passed.evidence["reached"] == {"SIZE": 87}
    assert passed.evidence["rounds"] == 3
    clean = _merge([round_(40), round_(40)], "p", clauses)
    assert clean.grade is Grade.NON_STRICT and [f.message for f in clean.findings].count("a soft one") == 1


def test_a_budget_runs_rounds_until_it_is_spent(tmp_path: Path) -> None:
    """A budget of zero seconds still runs one round; its progress line names the property."""
    calls = []

    class Prop:
        id = "property/fake"
        clauses = ("SPEC-SIZE",)

        def run(self, factory, caps, hs):  # noqa: ANN001, ANN201
            calls.append(hs.max_examples)
            r = CaseResult(self.id, self.clauses)
            r.findings = [Finding(Grade.PASS, self.clauses, "n", {"examples": hs.max_examples})]
            return r

    progress = tmp_path / "p.jsonl"
    res = run_property(Prop(), None, None, settings_for("deep"), Campaign(budget_s=1e-9, progress=progress))
    assert calls == [40] and res.grade is Grade.PASS
    assert read_progress(progress) == {"property/fake": {"examples": 40, "rounds": 1, "failures": 0}}
