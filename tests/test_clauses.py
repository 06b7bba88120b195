"""The clause registry: every clause has a case, every case names known clauses, the docs are
current, and the public API of each package is pinned."""

from __future__ import annotations

from pathlib import Path

import conformance
import recorder
import simulator
from conformance.cases import CATALOGUE
from conformance.clausedoc import cases_by_clause, render
from conformance.clauses import CLAUSES

ROOT = Path(__file__).resolve().parents[1]


def test_every_clause_has_at_least_one_case():
    """PROTOCOL clauses are the exception: they hold in every case run through a recorder
    process, and tests/test_protocol.py makes a process break each of them."""
    empty = [cid for cid, cases in cases_by_clause().items() if not cases and CLAUSES[cid].source != "protocol"]
    assert empty == [], f"clauses without a case: {empty}"


def test_every_case_names_only_known_clauses():
    unknown = {(c.id, cid) for c in CATALOGUE for cid in c.clauses if cid not in CLAUSES}
    assert unknown == set()


def test_every_decision_is_documented():
    text = (ROOT / "docs" / "spec-decisions.md").read_text()
    missing = [cid for cid, cl in CLAUSES.items() if cl.source == "decision" and f"| {cid} |" not in text]
    assert missing == []


def test_case_ids_are_unique():
    ids = [c.id for c in CATALOGUE]
    assert len(ids) == len(set(ids))


def test_clause_doc_is_current():
    assert (ROOT / "docs" / "clauses.md").read_text() == render(), "run: python -m conformance.clausedoc > docs/clauses.md"


def test_public_exports_are_pinned():
    assert sorted(simulator.__all__) == sorted([
        "ArgumentError", "CallChannel", "CallState", "Clock", "Deadlock", "Error", "FRAME", "Hangup",
        "LockStepThread", "Priority", "Scenario", "ScenarioBuilder", "ScenarioError", "SimulationLimit",
        "TICKS_PER_MS", "TICKS_PER_SECOND", "load_scenario", "loads_scenario"])
    assert sorted(recorder.__all__) == ["Cause", "Cipher", "FileRecorder", "State"]
    assert sorted(conformance.__all__) == sorted([
        "CLAUSES", "Capabilities", "CaseResult", "Clause", "Finding", "Grade", "RecorderConformanceTests",
        "Report", "check_recorder"])
    for mod in (simulator, recorder, conformance):
        for name in mod.__all__:
            assert hasattr(mod, name), f"{mod.__name__}.{name}"


def test_every_spec_clause_quotes_its_sentence():
    """A FAIL names a SPEC clause, and every SPEC clause carries the sentence of the vendor's page
    it rests on (checked verbatim against the page when the registry was written); decisions,
    which the text does not fix, quote nothing."""
    for cl in CLAUSES.values():
        if cl.fixed:
            assert len(cl.quote) >= 20, cl.id
        else:
            assert cl.quote == "", cl.id


def test_every_protocol_clause_quotes_docs_protocol_md():
    """A PROTOCOL clause's FAIL quotes a sentence of docs/protocol.md (the wire protocol's own
    rules, not the vendor's page), verbatim, and the registry says where the quote is from."""
    import re

    text = re.sub(r"\s+", " ", (ROOT / "docs" / "protocol.md").read_text().replace("**", ""))
    proto = {cid: cl for cid, cl in CLAUSES.items() if cid.startswith("PROTOCOL-")}
    assert sorted(proto) == ["PROTOCOL-EXIT", "PROTOCOL-FLOOD", "PROTOCOL-HANDSHAKE", "PROTOCOL-MESSAGE",
                             "PROTOCOL-ORDER", "PROTOCOL-TIMEOUT"]
    for cid, cl in proto.items():
        assert cl.source == "protocol" and cl.fixed, cid
        assert cl.quote in text, cid
        assert f"{cid}: {cl.quote}" in text, f"{cid} is listed with its sentence under 'Rules the harness enforces'"
    assert all(cl.source in ("spec", "decision", "protocol") for cl in CLAUSES.values())
    from conformance.grades import Finding, Grade

    assert Finding(Grade.FAIL, ("PROTOCOL-ORDER",), "x").quote == CLAUSES["PROTOCOL-ORDER"].quote


def test_a_fail_finding_carries_its_quote():
    """A FAIL's JSON carries the sentence of its first SPEC clause; a finding naming only a
    decision has none (and the teeth tests forbid such a FAIL)."""
    from conformance.grades import Finding, Grade

    f = Finding(Grade.FAIL, ("SD-SIZE", "SPEC-SIZE"), "x")
    assert f.to_json()["quote"] == CLAUSES["SPEC-SIZE"].quote
    assert Finding(Grade.FAIL, ("SD-SIZE",), "x").quote == ""
    assert "quote" not in Finding(Grade.NON_STRICT, ("SD-SIZE",), "x").to_json()
