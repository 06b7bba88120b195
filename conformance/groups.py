"""Root causes: the cases that did not pass, grouped by the same disagreement on the same clause.

One bug in a recorder (a wrong cause mapping, say) makes dozens of cases FAIL with findings that
differ only in step numbers, times and which method showed the wrong value. A person wants to
read "SILENCE expected, TIMEOUT observed: 48 cases" once, with the smallest case to replay.

The grouping is computed from the findings' data alone (grade, clauses, message, evidence), so
it works whatever wording the oracle gives its messages:

* a finding's *kind* of disagreement is its explicit ``Finding.kind`` when the check set one;
  else each named value (a cause, a state, an exception) where its evidence's ``observed``
  differs from its ``expected`` / ``allowed`` (``'SILENCE' expected, 'TIMEOUT' observed``;
  shapes understood: the same fields on both sides, a list of allowed values or outcomes, a
  mapping from each allowed value to its time window, of which those open at the observed
  instant count); else (only numbers differ, or no such evidence) its message with numbers,
  step indices and repeated alternatives folded away, and the words that vary between
  otherwise equal messages (file and format names, never upper-case named values) written
  ``*``;
* the same kind is one root cause whichever method or clause showed it (``record()``
  returning the wrong cause and ``cause()`` reporting it are one bug; a factory that cannot
  build a recorder crashes every case the same way); the group is named by the clause its
  findings name most;
* each case joins exactly one group: greedily, the signature shared by the most cases first
  (a set cover), so a case that shows the common bug and a second one is counted under the
  common bug and the group counts add up to the number of cases not passing.

``group_cases(cases)`` returns the groups, largest first, each with its smallest replayable
case (the shortest scenario; a case without one last). Nothing here imports ``grades``: the
functions read plain attributes, so this module is usable on findings read back from JSON.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Group", "group_cases", "disagreements", "normalise_message", "templates", "GROUPED_GRADES"]

#: The grades a case is grouped under (PASS, INFO, NON-STRICT, UNSUPPORTED and XFAIL do not
#: fail a run and are not root causes to chase).
GROUPED_GRADES = ("ERROR", "FAIL", "XPASS")

_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_STEP = re.compile(r"^\s*step N\s+")
_REPEAT = re.compile(r"(\b[^,;]{1,40}?)(?:, \1\b)+")
_MAX_KIND = 160


def normalise_message(message: str) -> str:
    """``message`` with what changes from case to case folded: numbers become ``N``, a leading
    ``step N`` goes, a run of the same alternative repeated is written once, whitespace is
    collapsed and the text is cut at 160 characters."""
    text = " ".join(str(message).split())
    text = _NUMBER.sub("N", text)
    text = _STEP.sub("", text)
    text = _REPEAT.sub(r"\1", text)
    return text if len(text) <= _MAX_KIND else text[: _MAX_KIND - 3] + "..."


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_NAME = re.compile(r"[A-Z][A-Za-z0-9_]{0,39}")


def _is_name(v: Any) -> bool:
    """A named value (a cause or state such as ``SILENCE``, an exception such as ``Error``,
    None, a bool): kept in a kind. File names and phrases are not names."""
    return v is None or isinstance(v, bool) or (isinstance(v, str) and _NAME.fullmatch(v) is not None)


def _show(v: Any) -> str:
    return "none" if v is None else repr(v) if isinstance(v, str) else str(v)


def disagreements(finding: Any) -> list[tuple[str, bool]]:
    """The kinds of disagreement a finding shows, as (kind, named) pairs: its explicit ``kind``;
    else one per named value where its evidence's ``observed`` differs from its ``expected`` /
    ``allowed``; else (only numbers differ, or no such evidence) its normalised message. ``named`` is True when the kind is a disagreement
    of named values (then it is one root cause whatever clause showed it)."""
    explicit = getattr(finding, "kind", "") or ""
    if explicit:
        return [(str(explicit), False)]
    ev = getattr(finding, "evidence", None) or {}
    if isinstance(ev, dict) and "observed" in ev:
        expected_key = next((k for k in ("expected", "allowed") if k in ev), None)
        if expected_key is not None:
            out: dict[str, bool] = {}
            try:
                _collect(ev[expected_key], ev["observed"], "", out)
            except Exception:  # noqa: BLE001 - evidence of a shape not understood: read the message
                out = {}
            named = {k: n for k, n in out.items() if n}
            if named:  # named values that differ say more than the message's numbers
                return [(k if len(k) <= _MAX_KIND else k[: _MAX_KIND - 3] + "...", n) for k, n in named.items()]
    return [(normalise_message(getattr(finding, "message", "")), False)]


_NAMED = re.compile(r"""\s*(?:(returned|raised|is)\s+)?(['"]?)([A-Za-z_][\w.]*)\2\s*""")


def _verb(v: Any) -> str:
    """``raised`` for a value written ``"raised Error"``, else ``""``."""
    m = _NAMED.fullmatch(v) if isinstance(v, str) else None
    return "raised" if m and m.group(1) == "raised" else ""


def _canon(v: Any) -> Any:
    """A named value written in a phrase reduced to the name: ``"'HANGUP'"``, ``"returned
    'TIMEOUT'"`` -> ``HANGUP``, ``TIMEOUT``; anything else unchanged."""
    if isinstance(v, str):
        m = _NAMED.fullmatch(v)
        if m:
            return m.group(3)
    return v


_WINDOW = re.compile(r"\s*(-?\d+(?:\.\d+)?)(?:\s*\.\.\s*(-?\d+(?:\.\d+)?))?\s*ms\s*")


def _holds(condition: Any, at: float) -> bool:
    """Whether ``at`` (ms) is inside a condition written as a window, ``"2200..2260 ms"`` or
    ``"2500 ms"`` (False for anything else)."""
    m = _WINDOW.fullmatch(condition) if isinstance(condition, str) else None
    if not m:
        return False
    lo = float(m.group(1))
    hi = float(m.group(2)) if m.group(2) else lo
    return lo <= at <= hi


def _principal(observed: Any) -> Any:
    """What an observation's value is: its ``value`` (or ``returned``) field, or itself."""
    if isinstance(observed, dict):
        for k in ("value", "returned"):
            if k in observed:
                return observed[k]
    return observed


def _collect(expected: Any, observed: Any, key: str, out: dict[str, bool]) -> None:
    """Each difference between ``expected`` and ``observed`` into ``out`` (phrase -> named).

    Shapes understood: the same fields on both sides (each differing field is a difference);
    a list of allowed values or outcomes (the observation against each alternative that is a
    named value, or against the closest outcome); a mapping from each allowed value to its
    condition (``{"SILENCE": "2200..2260 ms"}``: the keys are the alternatives)."""
    if isinstance(expected, dict) and isinstance(observed, dict) and set(expected) & set(observed):
        for k in sorted(set(expected) & set(observed), key=str):  # a field on one side only is a note
            if expected.get(k) != observed.get(k):
                _collect(expected.get(k), observed.get(k), str(k), out)
        return
    if isinstance(expected, dict) and expected:  # allowed value -> its condition (a time window)
        got = _canon(_principal(observed))
        at = observed.get("end_ms") if isinstance(observed, dict) else None
        now = [k for k, cond in expected.items() if _is_number(at) and _holds(cond, float(at or 0))]
        if not now and got in [_canon(k) for k in expected]:
            return  # the value is allowed, its time is not: a timing finding, read from its message
        _collect(now or list(expected), got, key, out)
        return
    if isinstance(expected, list) and not isinstance(observed, list):
        if observed in expected:
            return
        if expected and isinstance(observed, dict) and all(isinstance(e, dict) for e in expected):
            # several allowed outcomes (readings): the differences from the closest one
            def distance(alt: dict[str, Any]) -> int:
                return sum(alt.get(k) != observed.get(k) for k in set(alt) | set(observed))

            _collect(min(expected, key=distance), observed, key, out)
            return
        names = [_canon(e) for e in expected]
        got = _canon(_principal(observed))
        raised = {_verb(e) for e in expected}
        if raised == {"raised"} and _verb(_principal(observed)) != "raised" and all(_is_name(n) for n in names):
            # an exception the spec requires was not raised: one root cause whatever came back
            for n in dict.fromkeys(names):
                out.setdefault(f"{_show(n)} expected to be raised, nothing raised", True)
            return
        if names and all(_is_name(n) for n in names) and _is_name(got):
            if got in names:
                return
            # each allowed value is a candidate: the grouping picks the one most cases share
            for n in dict.fromkeys(names):
                out.setdefault(f"{_show(n)} expected, {_show(got)} observed", True)
        else:
            out.setdefault(f"{key or 'value'} not among the allowed values", False)
        return
    expected, observed = _canon(expected), _canon(_principal(observed))
    if expected == observed:
        return
    if _is_name(expected) and _is_name(observed):
        out.setdefault(f"{_show(expected)} expected, {_show(observed)} observed", True)
    else:
        out.setdefault(f"{key or 'value'} differs", False)


_CAPS_NAME = re.compile(r"^\W*[A-Z][A-Z0-9_]{2,}\W*$")


def _mergeable(a: str, b: str) -> bool:
    """Two tokens of messages may be folded into ``*``: neither is a named value such as a
    cause or state (``'TIMEOUT'``), whose difference is the point."""
    return not (_CAPS_NAME.match(a) or _CAPS_NAME.match(b))


def templates(kinds: list[str], min_share: float = 0.6) -> dict[str, str]:
    """kind -> template: messages with the same number of words that agree on at least
    ``min_share`` of them and differ only in mergeable words (file names, format names; never
    named values) are one template, the differing words written ``*`` (the idea of log
    template mining). The most frequent kinds seed the templates."""
    out: dict[str, str] = {}
    seeds: list[list[str]] = []
    for kind, _ in Counter(kinds).most_common():
        words = kind.split(" ")
        for i, t in enumerate(seeds):
            if len(t) != len(words):
                continue
            same = sum(a == b for a, b in zip(t, words))
            if same >= min_share * len(words) and all(a == b or _mergeable(a, b) for a, b in zip(t, words)):
                seeds[i] = [a if a == b else "*" for a, b in zip(t, words)]
                break
        else:
            seeds.append(words)
    for kind in set(kinds):
        words = kind.split(" ")
        for t in seeds:
            if len(t) == len(words) and all(a == b or a == "*" and _mergeable(a, b) for a, b in zip(t, words)):
                out[kind] = " ".join(t)
                break
        else:  # pragma: no cover - every kind matches the seed it made or joined
            out[kind] = kind
    return out


@dataclass
class Group:
    """Cases that share one root cause."""

    grade: str
    kind: str
    #: the clause the group is about: the one its findings name most often
    clause: str
    cases: list[Any] = field(default_factory=list)
    #: the finding of each case that put it in the group (same order as ``cases``)
    findings: list[Any] = field(default_factory=list)

    @property
    def smallest(self) -> Any:
        """The case to replay first: one with a scenario, the shortest scenario text, then the
        fastest, then by ID."""
        return min(self.cases, key=lambda c: (not c.scenario_toml, len(c.scenario_toml or ""),
                                              c.duration_s, c.id))

    @property
    def quote(self) -> str:
        """The sentence of the spec the group breaks: its clause's, else its first finding's."""
        from .clauses import CLAUSES

        cl = CLAUSES.get(self.clause)
        if cl is not None and cl.fixed and cl.quote:
            return cl.quote
        return next((q for f in self.findings if f is not None and (q := getattr(f, "quote", ""))), "")

    @property
    def label(self) -> str:
        """``clause: kind``; a group of one case read from a message shows the message itself
        (nothing to fold when nothing repeats)."""
        kind = self.kind
        if len(self.cases) == 1 and self.findings and self.findings[0] is not None:
            f = self.findings[0]
            if disagreements(f) == [(normalise_message(getattr(f, "message", "")), False)]:
                kind = " ".join(str(f.message).split())[:_MAX_KIND]
        return f"{self.clause}: {kind}" if self.clause else kind

    def headline(self) -> str:
        """``FAIL SPEC-SILENCE: 'SILENCE' expected, 'TIMEOUT' observed: 48 cases``."""
        n = len(self.cases)
        return f"{self.grade} {self.label}: {n} case{'s' if n != 1 else ''}"

    def to_json(self) -> dict[str, Any]:
        return {"grade": self.grade, "clause": self.clause, "kind": self.kind, "label": self.label,
                "count": len(self.cases), "cases": [c.id for c in self.cases], "smallest": self.smallest.id}


def _grade(x: Any) -> str:
    g = getattr(x, "grade", "")
    return str(getattr(g, "value", g))


def _raw_signatures(case: Any) -> list[tuple[tuple[str, str, str], bool, Any]]:
    """(signature, named, finding) for each kind of disagreement the case's findings of its
    grade show; a signature is (grade, anchor clause, kind), the anchor kept empty (a kind is
    one root cause on every clause; the slot lets a check's own ``kind`` be keyed by clause)."""
    grade = _grade(case)
    found = [f for f in case.findings if _grade(f) == grade] or list(case.findings)
    out = []
    for f in found:
        for kind, named in disagreements(f):
            out.append(((grade, "", kind), named, f))
    if not out:  # a case graded without findings of its grade (should not happen): by its summary
        out.append(((grade, "", normalise_message(case.summary() if hasattr(case, "summary") else "")), False, None))
    return out


_EXPECTED = re.compile(r"^'([^']+)'(?: or '[^']+')* expected")


def _main_clause(per_case: list[list[Any]], anchor: str, kind: str, texts: dict[str, str]) -> str:
    """The clause a group is about: its anchor; else the clause the most of its cases' findings
    name, preferring (among those named by at least 3/4 as many cases as the top one) one whose text names the expected value
    (``SILENCE`` in "'SILENCE' expected, 'TIMEOUT' observed"), then a clause of the text over a
    decision, then the registry's order."""
    if anchor:
        return anchor
    counts = Counter(c for found in per_case for c in dict.fromkeys(c for f in found for c in f.clauses))
    if not counts:
        return ""
    m = _EXPECTED.match(kind)
    want = m.group(1) if m else None
    order = {cid: i for i, cid in enumerate(texts)}
    top = max(counts.values())

    def rank(c: str) -> tuple[Any, ...]:
        common = counts[c] * 4 >= top * 3  # named by at least 3/4 as many cases as the top clause
        names_it = want is not None and want in texts.get(c, "")
        return (not common, not names_it, -counts[c], not c.startswith("SPEC-"), order.get(c, len(order)), c)

    return min(counts, key=rank)


def group_cases(cases: list[Any], grades: tuple[str, ...] = GROUPED_GRADES) -> list[Any]:
    """The root-cause groups of the cases graded one of ``grades`` (see the module's doc)."""
    from .clauses import CLAUSES

    texts = {cid: cl.text for cid, cl in CLAUSES.items()}
    todo = {c.id: c for c in cases if _grade(c) in grades}
    raw = {cid: _raw_signatures(c) for cid, c in todo.items()}
    tmpl = templates([sig[2] for found in raw.values() for sig, named, _ in found if not named])
    sigs: dict[str, dict[tuple[str, str, str], list[Any]]] = {}
    for cid, found in raw.items():
        for (grade, anchor, kind), named, f in found:
            key = (grade, anchor, kind if named else tmpl.get(kind, kind))
            sigs.setdefault(cid, {}).setdefault(key, [])
            if f is not None:
                sigs[cid][key].append(f)
    groups: list[Group] = []
    while todo:
        counts: Counter[tuple[str, str, str]] = Counter(s for cid in todo for s in sigs[cid])
        rank = {"ERROR": 0, "FAIL": 1, "XPASS": 2}
        best = min(counts, key=lambda s: (-counts[s], rank.get(s[0], 3), s))
        members = [c for cid, c in todo.items() if best in sigs[cid]]
        per_case = [sigs[c.id][best] for c in members]
        grade, anchor, kind = best
        groups.append(Group(grade, kind, _main_clause(per_case, anchor, kind, texts), members,
                            [found[0] if found else None for found in per_case]))
        for c in members:
            del todo[c.id]
    groups.sort(key=lambda g: (-len(g.cases), {"ERROR": 0, "FAIL": 1, "XPASS": 2}.get(g.grade, 3), g.label))
    return groups
