"""The architecture, checked from the code: imports flow one way, the reference is the default in
exactly one place, the contract is pinned and is all an implementer needs, the subclass door has
no silent default.

The import rules are read from every module's AST (function-level imports included), so a lazy
``from recorder import ...`` inside a function breaks them as surely as one at the top.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import callsim.contract as contract

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("callsim", "simulator", "recorder", "conformance", "fixtures", "examples")


def _modules() -> dict[str, Path]:
    """Dotted module name (as installed) -> file, for every module of the distribution."""
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts[0] == "fixtures":  # installed as callsim.fixtures
                parts.insert(0, "callsim")
            out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, absolute, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{alias.name}" for alias in node.names)
    return found


def _layer(module: str) -> str | None:
    """The layer a project module belongs to (None: not ours)."""
    top = module.split(".")[0]
    if module == "callsim.contract" or module.startswith("callsim.contract."):
        return "contract"
    if module == "callsim.fixtures" or module.startswith("callsim.fixtures."):
        return "fixtures"
    if module == "callsim.importer" or module.startswith("callsim.importer."):
        return "callsim.importer"
    if module in ("callsim", "callsim.__main__", "callsim.cli", "callsim.plot", "callsim.wiring", "callsim.textsafe"):
        return module
    if top in ("simulator", "recorder", "conformance", "examples"):
        return top
    return None


#: What each layer may import (besides itself and third-party code). The reference recorder is
#: reached only through ``callsim.wiring``, the composition root.
ALLOWED: dict[str, set[str]] = {
    "contract": set(),
    "fixtures": set(),
    "callsim": set(),
    "simulator": {"contract", "fixtures"},
    "recorder": {"contract"},
    "conformance": {"contract", "simulator", "fixtures", "callsim.plot", "callsim.textsafe"},
    "callsim.textsafe": set(),
    "callsim.plot": {"contract", "simulator"},
    "callsim.wiring": {"contract", "recorder"},
    "callsim.importer": {"contract", "simulator", "callsim.textsafe"},
    "callsim.cli": {"contract", "simulator", "conformance", "callsim.plot", "callsim.wiring", "callsim",
                    "callsim.textsafe", "callsim.importer"},
    "callsim.__main__": {"callsim.cli"},
    "examples": {"contract"},
}
#: The edges of the program that may pick the default recorder (through ``callsim.wiring``).
EDGES = {"conformance.plugin": {"callsim.wiring"}}


def _violations() -> list[str]:
    bad = []
    for name, path in _modules().items():
        own = _layer(name)
        assert own is not None, name
        allowed = ALLOWED[own] | {own} | EDGES.get(name, set())
        for imported in _imports(name, path):
            other = _layer(imported)
            if other is None or other in allowed:
                continue
            if own == "conformance" and other == "callsim" and imported == "callsim":
                continue
            bad.append(f"{name} ({own}) imports {imported} ({other})")
    return sorted(set(bad))


def test_imports_flow_one_way() -> None:
    assert _violations() == []


def test_the_rule_test_sees_lazy_imports(tmp_path: Path) -> None:
    """The checker would catch a function-level import of the reference in the simulator."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from recorder import FileRecorder\n    from .x import y\n")
    found = _imports("simulator.probe", probe)
    assert "recorder" in found and "simulator.x" in found
    assert _layer("recorder") not in ALLOWED["simulator"]


def test_only_the_composition_root_names_the_reference() -> None:
    """'recorder' is imported outside recorder/ only by callsim.wiring (and tests/bench)."""
    users = sorted(
        name for name, path in _modules().items()
        if not name.startswith("recorder") and any(_layer(i) == "recorder" for i in _imports(name, path))
    )
    assert users == ["callsim.wiring"]


def test_suite_readers_and_oracle_are_independent_of_the_reference() -> None:
    """The oracle and the suite's own WAV reader and decoders never import the reference (nor
    anything that could reach it)."""
    mods = _modules()
    for name in ("conformance.model", "conformance.wavread", "conformance.decoders", "conformance.grading"):
        assert not any(_layer(i) in ("recorder", "callsim.wiring") for i in _imports(name, mods[name])), name


def test_import_has_no_side_effects() -> None:
    """Importing every package leaves the environment and the process's threads untouched."""
    code = (
        "import os, threading; before = dict(os.environ); n = threading.active_count();\n"
        "import callsim, callsim.contract, simulator, recorder, conformance, callsim.wiring\n"
        "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())\n"
        "assert threading.active_count() == n\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)


# -- the contract ------------------------------------------------------------------------------
CONTRACT_ALL = [
    "API_METHODS", "API_RETURNS", "ArgumentError", "CallChannelLike", "CallState", "Cause", "Cipher", "CipherError", "ClockLike",
    "DBM0_RMS", "Deadlock", "Encryptor", "Error", "FORMATS", "FRAME", "FRAME_MS",
    "FULL_SCALE_SINE_DBM0", "Hangup", "InvalidNameError", "MAX_NAME_LENGTH", "MediaSink",
    "NAME_RULES", "Priority", "RATES", "RecorderFactory", "SILENCE_THRESHOLD_DBM0",
    "ScheduledEventLike", "SimulationLimit", "State", "StoreError", "StoreFullError", "StoreLike",
    "StoreNotFoundError", "StoreWriterLike", "TICKS_PER_MS", "TICKS_PER_SECOND", "dbm0_to_energy",
    "dbm0_to_rms", "is_valid_name", "ms_to_ticks", "rms_to_dbm0", "safe_repr", "seconds_to_ticks",
    "ticks_to_ms", "ticks_to_seconds", "validate_name",
]


def test_contract_exports_are_pinned() -> None:
    assert sorted(contract.__all__) == sorted(CONTRACT_ALL)
    for name in contract.__all__:
        assert hasattr(contract, name), name


def test_contract_values() -> None:
    """The facts the contract fixes, and that the old spellings are the same objects."""
    import recorder
    import simulator
    from recorder import filerecorder
    from simulator import clock, store

    assert contract.FRAME == 160 and contract.TICKS_PER_SECOND == 8000 and contract.TICKS_PER_MS == 8
    assert contract.ms_to_ticks(20) == contract.FRAME and contract.seconds_to_ticks(1.5) == 12_000
    assert contract.FORMATS == ("alaw", "ulaw", "oki", "ima", "s16bit", "u8bit")
    assert contract.RATES == (8000, 6000, 11000, 11025)
    assert len(contract.CallState) == 14 and len(contract.Cause) == 8 and len(contract.State) == 3
    assert contract.dbm0_to_energy(-45.0) == 1_318_226
    assert simulator.Hangup is contract.Hangup and simulator.Error is contract.Error
    assert simulator.CallState is contract.CallState and simulator.Priority is contract.Priority
    assert recorder.Cipher is contract.Cipher
    assert recorder.FileRecorder.Cause is contract.Cause and recorder.FileRecorder.State is contract.State
    assert filerecorder.FORMAT_NAMES is contract.FORMATS and filerecorder.RATES is contract.RATES
    assert clock.FRAME is contract.FRAME or clock.FRAME == contract.FRAME
    assert store.validate_name is contract.validate_name and store.StoreError is contract.StoreError


def _api_signature(cls: type, method: str) -> list[tuple[str, object, object]]:
    """(name, kind, default) of each parameter of ``cls.method`` after ``self``."""
    params = list(inspect.signature(getattr(cls, method)).parameters.values())
    assert params and params[0].name == "self", (cls.__name__, method)
    return [(p.name, p.kind, p.default) for p in params[1:]]


def _table_signature(method: str) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in contract.API_METHODS[method]]


@pytest.mark.parametrize("impl", ["recorder:FileRecorder", "examples.buffered_recorder:BufferedRecorder"])
def test_recorder_signatures_match_the_api_table(impl: str) -> None:
    """The reference recorder (and the example) have exactly the methods, parameter names,
    order, kinds and defaults of ``callsim.contract.API_METHODS`` (the scenario loader checks
    action arguments against that table, so it must be the vendor's API as implemented)."""
    import importlib

    module, _, name = impl.partition(":")
    cls = getattr(importlib.import_module(module), name)
    for method in contract.API_METHODS:
        assert _api_signature(cls, method) == _table_signature(method), method
    assert set(contract.API_RETURNS) == set(contract.API_METHODS)


def test_the_api_table_test_sees_a_renamed_or_reordered_parameter() -> None:
    class Renamed:
        def wait_until_finished(self, timeout_seconds=120): ...

    class Reordered:
        def record(self, filename, rate=8000, file_format="alaw", seconds_timeout=120, max_bytes=1920000,
                   milliseconds_max_silence=10000, milliseconds_initial_silence=0, barge_in=False, cipher=None): ...

    class OtherDefault:
        def wait_until_finished(self, seconds_timeout=None): ...

    assert _api_signature(Renamed, "wait_until_finished") != _table_signature("wait_until_finished")
    assert _api_signature(Reordered, "record") != _table_signature("record")
    assert _api_signature(OtherDefault, "wait_until_finished") != _table_signature("wait_until_finished")


def test_cipher_key_material_is_public_but_never_shown() -> None:
    c = contract.Cipher("00112233445566778899aabbccddeeff", "0f" * 16)
    assert c.key == bytes.fromhex("00112233445566778899aabbccddeeff") and c.iv == b"\x0f" * 16
    assert c.key_bits == 128
    for text in (repr(c), str(c)):
        assert "0011" not in text and "0f0f" not in text


def test_the_example_recorder_imports_only_the_contract() -> None:
    path = ROOT / "examples" / "buffered_recorder.py"
    ours = {i for i in _imports("examples.buffered_recorder", path) if _layer(i) not in (None, "examples")}
    assert ours and all(_layer(i) == "contract" for i in ours), ours


def test_reference_implements_the_contract_protocols() -> None:
    """The simulator's channel, clock and store satisfy the protocols the contract promises."""
    from recorder import FileRecorder
    from simulator import CallChannel, Clock

    ch = CallChannel(Clock(), recorder_factory=FileRecorder)
    for proto, obj in ((contract.CallChannelLike, ch), (contract.ClockLike, ch.clock), (contract.StoreLike, ch.store)):
        missing = [m for m in dir(proto) if not m.startswith("_") and not hasattr(obj, m)]
        assert missing == [], (proto.__name__, missing)


# -- the subclass door -------------------------------------------------------------------------
pytest_plugins = ["pytester"]


def test_subclass_without_factory_errors_clearly(pytester: pytest.Pytester) -> None:
    """A subclass that forgets to override recorder_factory gets an error naming the fixture,
    never a silent run against the reference."""
    pytester.makepyfile(
        test_mine="""
from conformance import RecorderConformanceTests

class TestMine(RecorderConformanceTests):
    pass
"""
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-k", "test_case and api", "-x")
    result.stdout.fnmatch_lines(["*does not override the recorder_factory fixture*"])
    assert result.ret != 0
    assert "passed" not in result.stdout.str().splitlines()[-1]


# -- docs that stand alone ---------------------------------------------------------------------
#: File names the docs use as examples or as names of generated output, not as citations.
NOT_CITATIONS = {"index.json", "args.json", "SCENARIO.toml", "my-call.toml", "complete-example.toml",
                 "customer-call.toml"}
_PATH = re.compile(r"(?<![\w/.-])((?:\.\./|\./)?(?:[\w.-]+/)*[\w.-]+\.(?:md|py|toml|txt|sh|json|ini|cfg))\b")


def _cited_files() -> list[tuple[Path, str]]:
    docs = [*ROOT.glob("docs/**/*.md"), ROOT / "README.md", *ROOT.glob("bench/*.md")]
    for pkg in (*PACKAGES, "bench"):
        docs += [*(ROOT / pkg).rglob("*.py"), *(ROOT / pkg).rglob("*.md")]
    return [(doc, m.group(1)) for doc in docs for m in _PATH.finditer(doc.read_text())]


def test_every_cited_file_exists() -> None:
    """Docs and comments cite only files that are in the repository (a bare name must match a
    file somewhere in it); nothing outside the repository (no ../ paths)."""
    tracked = {p.name for p in ROOT.rglob("*") if ".git" not in p.parts}
    missing = []
    for doc, cited in _cited_files():
        if cited in NOT_CITATIONS:
            continue
        if "/shared/" in cited or not (doc.parent / cited).resolve().is_relative_to(ROOT.parent):
            missing.append(f"{doc.relative_to(ROOT)}: {cited} (outside the repository)")
        elif cited.startswith("../") and not (doc.parent / cited).resolve().is_relative_to(ROOT):
            missing.append(f"{doc.relative_to(ROOT)}: {cited} (outside the repository)")
        elif "/" in cited:
            if not any((base / cited).exists() for base in (ROOT, doc.parent, ROOT / "docs")):
                missing.append(f"{doc.relative_to(ROOT)}: {cited}")
        elif cited not in tracked:
            missing.append(f"{doc.relative_to(ROOT)}: {cited}")
    assert missing == []


def test_no_citations_of_outside_notes() -> None:
    """The vendor facts are summarised in docs/vendor-facts.md; nothing cites the notes they came
    from, a research folder, or the issue tracker."""
    bad = re.compile(r"\bNOTES\.md|\bNOTES §|\bresearch/|\b[Ii]ssue \d+\b")
    hits = []
    for doc in [*ROOT.glob("docs/**/*.md"), ROOT / "README.md", *ROOT.glob("bench/*.md")] + [
        p for pkg in (*PACKAGES, "bench", "tests") for p in (ROOT / pkg).rglob("*.py")
        if p != Path(__file__).resolve()
    ]:
        for n, line in enumerate(doc.read_text().splitlines(), 1):
            if bad.search(line):
                hits.append(f"{doc.relative_to(ROOT)}:{n}: {line.strip()[:80]}")
    assert hits == []


def test_module_map_lists_every_module() -> None:
    """docs/architecture.md's module map names every module of the distribution, and nothing
    that does not exist."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Module map", 1)[1].split("\n### ", 1)[0]
    listed = set(re.findall(r"^\| `([\w/]+\.py)` \|", section, re.M))
    actual = {str(p.relative_to(ROOT)) for p in _modules().values()}
    assert sorted(actual - listed) == [], "modules missing from the map"
    assert sorted(listed - actual) == [], "the map lists modules that do not exist"
