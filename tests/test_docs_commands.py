"""Every command shown in the README's shell blocks runs as written (docs are tested).

Commands run in a scratch folder that links the repository's ``fixtures`` and ``examples`` so
their outputs (reports, files, plots) do not land in the work tree. ``bash .ci/run`` (which
would run this test again), ``pip install`` steps (done by CI itself) and making and entering
the virtual environment (the test runs in the environment CI made) are the exceptions.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _venv_step(command: str) -> bool:
    return command.startswith("python3 -m venv ") or command in (". .venv/bin/activate", "source .venv/bin/activate")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    cmds = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        if "callsim import" in block:  # a walk-through whose commands build on each other:
            continue                   # tests/test_import_docs.py runs it in order
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = [p.strip() for p in line.split("&&")]
            parts = [p for p in parts if "pip install" not in p and p != "bash .ci/run" and not _venv_step(p)]
            cmds.extend(parts)
    return cmds


def test_readme_has_commands_to_run():
    """Guard against an empty parametrisation (which would test nothing)."""
    cmds = readme_commands()
    assert any(c.startswith("callsim conformance") for c in cmds) and any(c.startswith("callsim run") for c in cmds)


def test_readme_opens_with_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, flags=re.S)
    assert first_block is not None and text.index("```sh") < 400
    lines = [ln for ln in first_block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]
    assert "callsim conformance" in lines[0] and lines[1] == "bash .ci/run"
    # stock Debian and Ubuntu refuse pip into the system Python: the first command makes and
    # enters a virtual environment before it installs
    steps = [p.strip() for p in lines[0].split("&&")]
    assert steps[0].startswith("python3 -m venv ") and steps[1] == ". .venv/bin/activate" and "pip install" in steps[2]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 -m pytest -n 2 -q" in ci and "python3 -m pytest -n 2 -q" in text


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("readme")
    for name in ("fixtures", "examples"):
        (d / name).symlink_to(ROOT / name)
    return d


@pytest.mark.parametrize("cmd", readme_commands())
def test_readme_command_runs(cmd: str, scratch: Path):
    argv = shlex.split(cmd)
    if argv[:3] == ["python3", "-m", "pytest"]:  # the walk-through's own tests (the voicemail example)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        for k in [k for k in env if k.startswith("PYTEST_")]:
            del env[k]  # a run of its own, not a pytest-xdist worker
        r = subprocess.run([sys.executable, *argv[1:]], cwd=scratch, capture_output=True, text=True, env=env,
                           timeout=900)
        assert r.returncode == 0 and " passed" in r.stdout, f"{cmd}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        return
    assert argv[0] == "callsim", f"unexpected command in README: {cmd}"
    if argv[1] == "plot":
        pytest.importorskip("matplotlib", reason="callsim plot needs the plot extra")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "callsim", *argv[1:]], cwd=scratch, capture_output=True,
                       text=True, env=env, timeout=900)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    if argv[1] == "conformance":
        report = scratch / argv[argv.index("--report") + 1] / "index.json"
        doc = json.loads(report.read_text())
        assert doc["summary"]["FAIL"] == 0 and doc["summary"]["total"] > 100
    if "--json" in argv and argv[1] == "run":
        assert set(json.loads(r.stdout)) >= {"steps", "final", "files"}
    if argv[1] == "plot":
        out = scratch / argv[argv.index("-o") + 1]
        assert out.stat().st_size > 10_000
