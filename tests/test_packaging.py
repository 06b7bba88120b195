"""The built wheel installs beside PyPI's ``fixtures`` without either overwriting the other.

callsim's repository keeps a ``fixtures/`` folder, which the wheel installs as
``callsim.fixtures`` (``[tool.setuptools.package-dir]`` in pyproject.toml), never as a top-level
``fixtures`` package: that name belongs to the ``fixtures`` distribution on PyPI (4.x). This test
builds the wheel as a user's ``pip`` would, installs it into a fresh virtual environment together
with PyPI's ``fixtures``, and checks from the installed metadata (each distribution's RECORD)
that no file belongs to both, then imports both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The top-level import names the wheel may install (the last three are promised spellings).
TOP_LEVEL = {"callsim", "simulator", "recorder", "conformance"}


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT), cwd=out)
    if r.returncode and ("No matching distribution" in r.stderr or "NewConnectionError" in r.stderr):
        pytest.skip(f"cannot build the wheel without the package index: {r.stderr.strip()[-200:]}")
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("callsim-*.whl")
    return whl


def test_wheel_top_level_names(wheel: Path) -> None:
    import zipfile

    names = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist() if "/" in n}
    assert names - {n for n in names if n.endswith(".dist-info")} == TOP_LEVEL
    assert "callsim/fixtures/scenarios/voicemail.toml" in zipfile.ZipFile(wheel).namelist()


@pytest.mark.tools
def test_wheel_installs_beside_pypi_fixtures(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    # System site packages give numpy & co. without downloading them again; the two
    # distributions under test are installed into the venv itself.
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    r = _run(str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "fixtures>=4", cwd=tmp_path)
    if r.returncode and ("No matching distribution" in r.stderr or "NewConnectionError" in r.stderr):
        pytest.skip(f"PyPI's fixtures is not reachable: {r.stderr.strip()[-200:]}")
    assert r.returncode == 0, r.stderr
    r = _run(str(py), "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", str(wheel), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    probe = r"""
import json, sys
from importlib import metadata
import fixtures, callsim, callsim.fixtures, simulator, recorder, conformance
from callsim.fixtures import scenario_paths
def files(dist):
    return {str(f) for f in metadata.distribution(dist).files if not str(f).startswith(("..", "bin/"))}
owned = {d: files(d) for d in ("callsim", "fixtures")}
print(json.dumps({
    "fixtures_has_Fixture": hasattr(fixtures, "Fixture"),
    "fixtures_file": fixtures.__file__,
    "callsim_fixtures_file": callsim.fixtures.__file__,
    "scenarios": len(scenario_paths()),
    "shared": sorted(owned["callsim"] & owned["fixtures"]),
    "callsim_tops": sorted({f.split("/")[0] for f in owned["callsim"]}),
    "venv": sys.prefix,
}))
"""
    r = _run(str(py), "-c", probe, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["fixtures_has_Fixture"], "PyPI's fixtures was shadowed"
    assert got["fixtures_file"].startswith(str(env_dir)) and got["callsim_fixtures_file"].startswith(str(env_dir))
    assert got["scenarios"] >= 21
    assert got["shared"] == []
    assert {t for t in got["callsim_tops"] if not t.endswith(".dist-info")} == TOP_LEVEL
