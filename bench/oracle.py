"""Oracle benchmarks: where the conformance suite's CPU goes, simulation vs oracle and grading.

``python -m bench.oracle [--examples N]`` (run from a checkout: it measures the code it imports)
prints two lines:

* the ci profile in one process: ``check_recorder`` CPU, of which ``run_scenario`` (simulating)
  and ``grade_scenario`` (simulating, then the oracle and grading);
* generated scenarios: N per strategy drawn first (hypothesis's own cost, reported apart), then
  each simulated and graded, with the CPU of each part and the scenarios per second per core.

Process CPU time is used throughout (the machine is shared); timings never go into tests.
The "Oracle" figures of docs/benchmarks.md came from this script run in the checkout before and
after the oracle redesign.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

__all__ = ["main"]


def ci_split() -> str:
    import conformance
    import conformance.cases as cases
    import conformance.grading as grading
    import conformance.properties as props
    import simulator.runner as runner
    from recorder import FileRecorder

    spent = {"run": 0.0, "grade": 0.0}

    def timed(fn: Any, key: str) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.process_time() - t

        return wrapper

    run = timed(runner.run_scenario, "run")
    runner.run_scenario = run
    grading.run_scenario = run  # type: ignore[attr-defined]
    grade = timed(grading.grade_scenario, "grade")
    cases.grade_scenario = grade  # type: ignore[attr-defined]
    props.grade_scenario = grade  # type: ignore[attr-defined]
    t0 = time.process_time()
    report = conformance.check_recorder(FileRecorder, profile="ci")
    total = time.process_time() - t0
    return (f"ci profile, one process: check_recorder {total:.1f} s CPU for {len(report.cases)} cases "
            f"(FAIL {len(report.failed)}); run_scenario {spent['run']:.1f} s in all; grade_scenario "
            f"{spent['grade']:.1f} s (its own simulation included)")


def generated(examples: int) -> str:
    from hypothesis import HealthCheck, Phase, given, settings

    import conformance.strategies as strategies
    from conformance.capabilities import Capabilities
    from conformance.grading import PlaintextSpy, grade_scenario
    from recorder import FileRecorder
    from simulator.runner import run_scenario

    caps = Capabilities()
    names = ["silence_scenarios", "size_scenarios", "timeout_scenarios", "bargein_inband_scenarios",
             "bargein_oob_scenarios", "hangup_scenarios", "aborted_scenarios", "none_scenarios",
             "defaults_scenarios", "formats_rates_scenarios", "exception_scenarios", "boundary_scenarios",
             "api_scenarios"]
    scenarios: list[Any] = []
    t0 = time.process_time()
    for name in names:
        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck), phases=(Phase.generate,))
        @given(getattr(strategies, name)(caps))
        def draw(s: Any) -> None:
            scenarios.append(s)

        draw()
    t_gen = time.process_time() - t0
    t_sim = t_all = 0.0
    for s in scenarios:
        t1 = time.process_time()
        run_scenario(s, FileRecorder, on_write=PlaintextSpy())
        t2 = time.process_time()
        grade_scenario(s, FileRecorder)
        t3 = time.process_time()
        t_sim += t2 - t1
        t_all += t3 - t2
    n = len(scenarios)
    oracle = t_all - t_sim
    return (f"{n} generated scenarios: drawing {t_gen:.2f} s CPU; simulation {t_sim:.2f} s; oracle and "
            f"grading {oracle:.2f} s ({oracle / t_sim:.2f}x the simulation); simulated and graded "
            f"{n / t_all:.0f}/s per core, {n / (t_all + t_gen):.0f}/s with drawing")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--examples", type=int, default=30, help="scenarios drawn per strategy")
    args = ap.parse_args()
    print(ci_split(), flush=True)
    print(generated(args.examples), flush=True)


if __name__ == "__main__":
    main()
