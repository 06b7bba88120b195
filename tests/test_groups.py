"""Root causes (``conformance.groups``): one bug is one group, whatever the oracle's wording.

Synthetic findings pin the rules (named values kept, numbers and file names folded, each case in
exactly one group, the smallest case chosen, an explicit ``Finding.kind`` honoured, JSON round
trips); real faulty recorders with one wrong cause mapping (``tests/faulty/causes.py``) must come
out as a single root cause naming both causes.
"""

from __future__ import annotations

import pytest

from conformance.grades import CaseResult, Finding, Grade
from conformance.groups import disagreements, group_cases, normalise_message, templates
from conformance.report import Report


def step_fail(step: int, call: str, want: str, got: str, end_ms: float = 1000.0) -> Finding:
    return Finding(Grade.FAIL, ("SPEC-RECORD", "SPEC-SILENCE"),
                   f"step {step} {call}() gave returned {got!r}, the spec allows [\"returned {want!r}\"]",
                   {"call": call, "step": step, "expected": {"end_ms": end_ms, "raised": None, "returned": want},
                    "observed": {"end_ms": end_ms, "raised": None, "returned": got}})


def final_fail(want: str, got: str) -> Finding:
    return Finding(Grade.FAIL, ("SPEC-CAUSE-FN",), f"final cause() is {got!r}, the spec allows [{want!r}]",
                   {"expected": want, "observed": got})


def case(cid: str, *findings: Finding, toml: str | None = "seed = 0\n") -> CaseResult:
    return CaseResult(cid, tuple(sorted({c for f in findings for c in f.clauses})), list(findings),
                      scenario_toml=toml)


def wrong_cause_cases(n: int = 48) -> list[CaseResult]:
    """``n`` cases of one bug, shown in the ways the oracle shows it: by record(), by
    wait_until_finished(), by the final cause(), with different steps and times."""
    out = []
    for i in range(n):
        shapes = [
            (step_fail(i % 3, "record", "SILENCE", "TIMEOUT", 100.0 * i), final_fail("SILENCE", "TIMEOUT")),
            (step_fail(1, "wait_until_finished", "SILENCE", "TIMEOUT", 20.0 * i),),
            (final_fail("SILENCE", "TIMEOUT"),),
        ]
        out.append(case(f"c/{i:02d}", *shapes[i % 3], toml="seed = 0\n" + "# pad\n" * (i + 1)))
    return out


def test_one_bug_shown_three_ways_is_one_group_with_its_smallest_case():
    cases = wrong_cause_cases(48) + [case("ok/1", Finding(Grade.PASS, ("SPEC-RECORD",), "fine"))]
    groups = group_cases(cases)
    assert len(groups) == 1
    g = groups[0]
    assert len(g.cases) == 48 and g.grade == "FAIL"
    assert "'SILENCE' expected" in g.kind and "'TIMEOUT' observed" in g.kind
    assert g.clause == "SPEC-SILENCE"  # named by most of its findings, and its text names SILENCE
    assert g.smallest.id == "c/00"  # the shortest scenario
    assert g.headline().endswith(": 48 cases")


def test_two_bugs_are_two_groups_and_every_case_is_in_exactly_one():
    cases = wrong_cause_cases(10)
    cases += [case(f"h/{i}", final_fail("HANGUP", "ABORTED")) for i in range(4)]
    # one case shows both bugs: it counts under the larger group only
    cases.append(case("both", final_fail("SILENCE", "TIMEOUT"), step_fail(0, "record", "HANGUP", "ABORTED")))
    groups = group_cases(cases)
    assert [len(g.cases) for g in groups] == [11, 4]
    assert "both" in {c.id for c in groups[0].cases}
    ids = [c.id for g in groups for c in g.cases]
    assert sorted(ids) == sorted(c.id for c in cases) and len(ids) == len(set(ids))
    assert "'HANGUP' expected, 'ABORTED' observed" == groups[1].kind


def test_messages_differing_in_numbers_and_file_names_fold_but_named_values_do_not():
    def wav(name: str, fmt: str, n: int) -> Finding:
        return Finding(Grade.FAIL, ("SPEC-WAV",), f"{name!r} is not a valid {fmt} WAV at 8000 Hz: RIFF size field "
                       f"says {n} bytes follow but the file has {n + 8}")

    cases = [case(f"w/{i}", wav(name, fmt, 100 * i)) for i, (name, fmt) in
             enumerate([("f.wav", "alaw"), ("s", "ulaw"), ("busy", "ima"), ("f.wav", "oki"), ("b", "alaw")])]
    cases += [case("t/1", Finding(Grade.FAIL, ("SPEC-STOP",), "stop() returned 'TIMEOUT' at 20 ms")),
              case("t/2", Finding(Grade.FAIL, ("SPEC-STOP",), "stop() returned 'ABORTED' at 40 ms"))]
    groups = group_cases(cases)
    assert [len(g.cases) for g in groups] == [5, 1, 1], [g.headline() for g in groups]
    assert groups[0].clause == "SPEC-WAV" and "RIFF size field says N bytes follow" in groups[0].kind
    assert {g.kind for g in groups[1:]} == {"stop() returned 'TIMEOUT' at N ms", "stop() returned 'ABORTED' at N ms"}


def test_timing_findings_group_by_their_message_and_named_values_keep_them_apart():
    def late(clause: str, cause: str, ms: int) -> Finding:
        return Finding(Grade.FAIL, (clause,), f"step 1 wait() returned {cause!r} at {ms} ms; a {cause} end is allowed "
                       f"at {ms + 100} ms or later", {"observed": {"value": f"returned {cause!r}", "end_ms": ms},
                                                       "allowed": {cause: f"{ms + 100} ms"}})

    groups = group_cases([case("a", late("SPEC-SILENCE", "SILENCE", 100)), case("b", late("SPEC-SILENCE", "SILENCE", 300)),
                          case("c", late("SPEC-RECORD-TIMEOUT", "TIMEOUT", 500))])
    assert sorted((g.clause, len(g.cases)) for g in groups) == [("SPEC-RECORD-TIMEOUT", 1), ("SPEC-SILENCE", 2)]
    assert groups[0].kind == "wait() returned 'SILENCE' at N ms; a SILENCE end is allowed at N ms or later"


def test_a_crash_of_every_case_is_one_root_cause_on_every_clause():
    crash = "the run crashed: RuntimeError: the recorder factory failed: TypeError: 'list' object is not callable"
    groups = group_cases([case(f"x/{i}", Finding(Grade.FAIL, (clause,), crash))
                          for i, clause in enumerate(["SPEC-STOP", "SPEC-FORMATS", "SPEC-SIZE", "SPEC-STOP"])])
    assert len(groups) == 1 and groups[0].clause == "SPEC-STOP" and len(groups[0].cases) == 4


def test_explicit_kind_wins_and_survives_json():
    f = Finding(Grade.FAIL, ("SPEC-STOP",), "step 3 stop() said something long", {"x": 1}, kind="stop() result ignored")
    assert disagreements(f) == [("stop() result ignored", False)]
    assert f.to_json()["kind"] == "stop() result ignored"
    assert "kind" not in Finding(Grade.FAIL, ("SPEC-STOP",), "m").to_json()  # derived kinds are not stored
    back = CaseResult.from_json(case("k", f).to_json())
    assert back.findings[0].kind == "stop() result ignored"


def test_groups_are_the_same_after_a_json_round_trip():
    cases = wrong_cause_cases(12) + [case("e/1", Finding(Grade.ERROR, ("SPEC-RECORD",), "no verdict: the case never ran"))]
    back = [CaseResult.from_json(c.to_json()) for c in cases]
    assert [(g.label, [c.id for c in g.cases]) for g in group_cases(cases)] == \
           [(g.label, [c.id for c in g.cases]) for g in group_cases(back)]


def test_errors_and_xpasses_are_grouped_but_other_grades_are_not():
    cases = [case("e", Finding(Grade.ERROR, ("SPEC-RECORD",), "no verdict: the case never ran")),
             case("n", Finding(Grade.NON_STRICT, ("SD-TIES",), "final cause() is 'TIMEOUT'; our decisions give 'SILENCE'")),
             case("x", Finding(Grade.XFAIL, ("SPEC-STOP",), "expected failure: ..."))]
    xp = case("p")
    xp.mark_expected_failure()
    groups = group_cases([*cases, xp])
    assert sorted(g.grade for g in groups) == ["ERROR", "XPASS"]


def test_report_json_lists_the_groups_with_a_replay_line():
    rep = Report("impl", cases=wrong_cause_cases(6), factory_spec="m:F", partial=False, known=6)
    doc = rep.to_json("rep")
    (g,) = doc["groups"]
    assert g["count"] == 6 and g["smallest"] == "c/00" and g["replay"].startswith("callsim run rep/replay/c_00.toml")
    assert g["quote"]  # the sentence of SPEC-SILENCE


def test_normalise_message():
    assert normalise_message("step 12 wait() returned at 2000 ms, the spec allows 120 ms, 120 ms, 120 ms (± 20 ms)") == \
        "wait() returned at N ms, the spec allows N ms (± N ms)"
    assert templates(["'a' is bad", "'b' is bad", "'TIMEOUT' is bad"]) == \
        {"'a' is bad": "* is bad", "'b' is bad": "* is bad", "'TIMEOUT' is bad": "'TIMEOUT' is bad"}


@pytest.mark.parametrize("name, select, want, got", [
    ("SilenceReportedAsTimeout", "limits/", "SILENCE", "TIMEOUT"),
    ("HangupReportedAsAborted", "hangup", "HANGUP", "ABORTED"),
])
def test_a_recorder_with_one_wrong_cause_mapping_has_one_root_cause(name: str, select: str, want: str, got: str):
    from conformance.suite import check_recorder
    from tests.faulty import causes

    report = check_recorder(getattr(causes, name), select=select, with_properties=False)
    assert len(report.failed) >= 5
    (g,) = report.groups()
    assert len(g.cases) == len(report.failed)
    assert f"'{want}' expected, '{got}' observed" in g.label


def test_several_allowed_outcomes_compare_with_the_closest():
    def f(got: str, ms: float) -> Finding:
        return Finding(Grade.FAIL, ("SPEC-WAIT",), f"wait() gave {got} at {ms}",
                       {"allowed": [{"returned": "SILENCE", "end_ms": ms}, {"returned": "BARGEIN", "end_ms": ms + 500}],
                        "observed": {"returned": got, "end_ms": ms}})

    groups = group_cases([case("a", f("TIMEOUT", 100)), case("b", f("TIMEOUT", 900))])
    assert len(groups) == 1 and groups[0].kind == "'SILENCE' expected, 'TIMEOUT' observed"


def test_a_missing_exception_is_one_root_cause_whatever_was_returned():
    def f(call: str, got: str) -> Finding:
        return Finding(Grade.FAIL, ("SPEC-EXC-NOTANSWERED",), f"step 0 {call}() {got} at 0 ms; the spec requires it to raise Error",
                       {"call": call, "observed": got, "allowed": ["raised Error"]})

    groups = group_cases([case("s", f("stop", "returned True")), case("r", f("record", "returned 'TIMEOUT'")),
                          case("w", f("wait_until_finished", "returned 'NONE'"))])
    assert len(groups) == 1 and groups[0].kind == "'Error' expected to be raised, nothing raised"


def test_time_windows_name_what_may_end_the_job_at_that_instant():
    def f(at: float, allowed: dict[str, str]) -> Finding:
        return Finding(Grade.FAIL, ("SPEC-SILENCE", "SPEC-RECORD"), f"step 0 record() returned 'TIMEOUT' at {at} ms",
                       {"observed": {"value": "returned 'TIMEOUT'", "end_ms": at}, "allowed": allowed})

    groups = group_cases([case("a", f(2200.0, {"SILENCE": "2200..2260 ms"})),
                          case("b", f(2500.0, {"SILENCE": "2500 ms", "TIMEOUT": "4000 ms"})),
                          case("c", f(1300.0, {"BARGEIN": "220..340 ms", "SILENCE": "1300..1360 ms"})),
                          case("d", Finding(Grade.FAIL, ("SPEC-CAUSE-FN",), "final cause() is 'TIMEOUT'",
                                            {"observed": "TIMEOUT", "allowed": ["'SILENCE'"]}))])
    assert len(groups) == 1 and groups[0].kind == "'SILENCE' expected, 'TIMEOUT' observed"
    early = group_cases([case("e", f(100.0, {"TIMEOUT": "4000 ms"}))])
    assert early[0].kind == "record() returned 'TIMEOUT' at N ms"  # a timing finding: its message
