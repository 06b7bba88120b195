"""Deep campaigns: the generated properties searched for a time budget, over many cores and many
machines, with every failure shared through one hypothesis example database.

This module owns ``Campaign`` (the database, the time budget, replay-only and where progress
goes), ``open_database`` (a directory, possibly on shared storage: hypothesis's
``DirectoryBasedExampleDatabase``; or ``redis://host:port/db``: hypothesis's own
``RedisExampleDatabase``), ``campaign_settings`` (a profile's settings with that database, and
only the replay phases under ``--replay-only``) and ``run_property`` (one property, in rounds
until its share of the budget is spent or it fails, each round appending a progress line).

Hypothesis saves every failing example it finds (shrunk) in the database under the property's
key, and replays the saved examples of a property before generating new ones; so a failure found
on one machine is the first thing every other machine sharing the database runs, and
``--replay-only`` replays them without generating anything. The keys are the property ids
(``conformance.properties`` gives each property's hypothesis test the id as its digest), so
they are the same on every machine running the same suite version.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from .grades import CaseResult, Finding, Grade
from .tracker import SOFT_CAP

__all__ = ["Campaign", "CampaignError", "open_database", "campaign_settings", "run_property", "ROUND_EXAMPLES",
           "check_campaign", "read_progress"]

#: Examples per round of a budgeted property (scaled by the property's weight); the budget is
#: checked between rounds, so a property overshoots its share by at most one round.
ROUND_EXAMPLES = 40


class CampaignError(ValueError):
    """A campaign option that cannot be used (the message names the option and why)."""


@dataclass(frozen=True)
class Campaign:
    """How the generated properties search: ``database`` (a directory or a ``redis://`` URL;
    None: no database), ``budget_s`` (seconds this property may search; None: one run of the
    profile's examples), ``replay_only`` (replay the database's examples, generate nothing) and
    ``progress`` (a JSON-lines file each round appends to)."""

    database: str | None = None
    budget_s: float | None = None
    replay_only: bool = False
    progress: Path | None = None

    @property
    def active(self) -> bool:
        return bool(self.database or self.budget_s or self.replay_only)


def open_database(spec: str) -> ExampleDatabase:
    """The hypothesis example database ``spec`` names: ``redis://...`` (needs the ``redis``
    package) or a directory (created if missing)."""
    if spec.startswith(("redis://", "rediss://", "unix://")):
        try:
            import redis
            from hypothesis.extra.redis import RedisExampleDatabase
        except ImportError:
            raise CampaignError(f"--database {spec!r}: a Redis database needs the redis package "
                                "(pip install redis)") from None
        try:
            client = redis.Redis.from_url(spec)
            client.ping()
        except Exception as exc:  # noqa: BLE001 - any connection problem is the same usage error
            raise CampaignError(f"--database {spec!r}: cannot reach Redis: {exc}") from None
        return RedisExampleDatabase(client, expire_after=timedelta(days=365))
    path = Path(spec)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".callsim-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CampaignError(f"--database {spec!r}: cannot use the folder: {exc.strerror or exc}") from None
    return DirectoryBasedExampleDatabase(str(path))


def check_campaign(database: str | None, budget_s: float | None, replay_only: bool) -> None:
    """``CampaignError`` when the options cannot run a campaign."""
    if budget_s is not None and not budget_s > 0:
        raise CampaignError(f"--budget {budget_s}: give a positive number of seconds")
    if replay_only and not database:
        raise CampaignError("--replay-only needs --database (the examples to replay)")
    if database:
        open_database(database)


def campaign_settings(hs: settings, campaign: Campaign) -> settings:
    """``hs`` with the campaign's database, and only the replay phases under ``replay_only``."""
    if not campaign.database:
        return hs
    extra: dict[str, Any] = {"database": open_database(campaign.database)}
    if campaign.replay_only:
        extra["phases"] = (Phase.explicit, Phase.reuse, Phase.shrink)
    return settings(hs, **extra)


def _examples(res: CaseResult) -> int:
    return sum(int(f.evidence.get("examples", 0)) for f in res.findings if f.grade is Grade.PASS)


def _merge(results: list[CaseResult], pid: str, clauses: tuple[str, ...]) -> CaseResult:
    """One case result for a property's rounds: the failing round's findings (a round fails
    only last), the soft findings of all rounds (at most ``SOFT_CAP``), the examples and what
    they reached summed."""
    out = CaseResult(pid, clauses)
    reached: dict[str, int] = {}
    examples = 0
    soft: dict[str, Finding] = {}
    for r in results:
        for f in r.findings:
            if f.grade is Grade.PASS and "examples" in f.evidence:
                examples += int(f.evidence["examples"])
                for k, v in f.evidence.get("reached", {}).items():
                    reached[k] = reached.get(k, 0) + int(v)
            elif f.grade in (Grade.NON_STRICT, Grade.INFO) and f.message.startswith("no generated example reached"):
                continue
            elif f.grade in (Grade.NON_STRICT, Grade.INFO):
                if len(soft) < SOFT_CAP:
                    soft.setdefault(f.grade.value + f.message[:70], f)
            else:
                out.findings.append(f)
        out.scenario_toml = r.scenario_toml or out.scenario_toml
        out.unsupported = r.unsupported or out.unsupported
    if not any(f.grade is Grade.FAIL for f in out.findings):
        out.findings.extend(soft.values())
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(reached.items()))
    out.findings.append(Finding(Grade.PASS, clauses, f"{examples} examples in {len(results)} round(s); reached "
                                f"{summary or 'nothing'}", {"examples": examples, "reached": reached,
                                                            "rounds": len(results)}))
    return out


def _note(campaign: Campaign, line: dict[str, Any]) -> None:
    if campaign.progress is None:
        return
    try:
        campaign.progress.parent.mkdir(parents=True, exist_ok=True)
        with open(campaign.progress, "a", encoding="utf-8") as fh:  # one short line: appends do not interleave
            fh.write(json.dumps(line, sort_keys=True) + "\n")
    except OSError:
        pass  # progress is a convenience; the verdict never depends on it


def run_property(prop: Any, factory: Any, caps: Any, hs: settings, campaign: Campaign) -> CaseResult:
    """Run ``prop`` under the campaign: once (no budget), or in rounds of ``ROUND_EXAMPLES``
    until ``campaign.budget_s`` is spent or a round fails; each round appends a progress line
    (property, round, examples so far, failures, seconds)."""
    hs = campaign_settings(hs, campaign)
    t0 = time.monotonic()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    results: list[CaseResult] = []
    while True:
        round_hs = settings(hs, max_examples=ROUND_EXAMPLES) if campaign.budget_s else hs
        res = prop.run(factory, caps, round_hs)
        results.append(res)
        failed = res.grade is Grade.FAIL
        elapsed = time.monotonic() - t0
        _note(campaign, {"property": prop.id, "worker": worker, "round": len(results),
                         "examples": sum(_examples(r) for r in results), "failures": int(failed),
                         "elapsed_s": round(elapsed, 1), "time": round(time.time(), 1)})
        if failed or res.unsupported or not campaign.budget_s or campaign.replay_only or elapsed >= campaign.budget_s:
            break
    if len(results) == 1:
        return results[0]
    merged = _merge(results, prop.id, tuple(prop.clauses))
    merged.duration_s = elapsed
    return merged


def read_progress(path: Path) -> dict[str, dict[str, int]]:
    """Per property, from a progress file: examples run, rounds and failures found (summed over
    the workers that ran it)."""
    last: dict[tuple[str, str], dict[str, int]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    for line in lines:
        try:
            d = json.loads(line)
            key = (str(d["property"]), str(d["worker"]))
            cur = last.setdefault(key, {"examples": 0, "rounds": 0, "failures": 0})
            cur["examples"] = max(cur["examples"], int(d["examples"]))
            cur["rounds"] = max(cur["rounds"], int(d["round"]))
            cur["failures"] += int(d["failures"])
        except (ValueError, KeyError, TypeError):
            continue  # a torn or foreign line
    out: dict[str, dict[str, int]] = {}
    for (pid, _), v in sorted(last.items()):
        tot = out.setdefault(pid, {"examples": 0, "rounds": 0, "failures": 0})
        for k in tot:
            tot[k] += v[k]
    return out
