"""The README's walk-through "reproduce a customer's call from a capture" runs as written, in
order, in one scratch folder; what the README says the import found is what it finds; the
bundled capture is what ``tests/pcapgen.py`` makes."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pcapgen import customer_call, write_capture

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / "fixtures" / "captures" / "customer-call.pcapng"


def walkthrough() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S) if "callsim import" in b]
    assert len(blocks) == 1
    return [ln.split("#", 1)[0].strip() for ln in blocks[0].splitlines() if ln.split("#", 1)[0].strip()]


def test_the_bundled_capture_is_what_the_generator_makes(tmp_path: Path) -> None:
    made = write_capture(tmp_path / "c.pcapng", customer_call().frames(), fmt="pcapng")
    assert made.read_bytes() == CAPTURE.read_bytes(), "regenerate: python3 -m tests.pcapgen " + str(CAPTURE.relative_to(ROOT))


def test_walkthrough_runs_in_order(tmp_path: Path) -> None:
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    outputs = []
    cmds = walkthrough()
    assert [shlex.split(c)[:2] for c in cmds] == [["callsim", "import"], ["callsim", "run"], ["callsim", "run"],
                                                   ["callsim", "import"]]
    for cmd in cmds:
        argv = shlex.split(cmd)
        r = subprocess.run([sys.executable, "-m", "callsim", *argv[1:]], cwd=tmp_path, capture_output=True,
                           text=True, env=env, timeout=300)
        assert r.returncode == 0, f"{cmd}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        outputs.append(r.stdout)
    assert (tmp_path / "customer-call.wav").stat().st_size > 100_000
    assert (tmp_path / "replay" / "recording.wav").stat().st_size > 90_000
    assert outputs[1].startswith("PASS")
    doc = json.loads(outputs[3])
    st = doc["stream"]
    assert (st["lost"], st["duplicates"], st["reordered"], st["digits"]) == (4, 2, 7, "1#")
    assert doc["call"]["hangup_ms"] == 12205 and doc["call"]["hangup_from"] == "BYE from the caller"
    assert [(c["at_ms"], c["state"]) for c in doc["call"]["changes"]] == [(6020, "ON_HOLD"), (7520, "ANSWERED")]
    readme = (ROOT / "README.md").read_text()
    for said in ("7 reordered", "2 duplicated", "4 lost", "6020 ms", "7520 ms", "hangup_ms = 12205"):
        assert said in readme, said


@pytest.mark.parametrize("cmd", walkthrough())
def test_walkthrough_commands_are_not_in_the_independent_list(cmd: str) -> None:
    """tests/test_docs_commands.py runs every other README command independently; these build
    on each other and are run here, in order."""
    from tests.test_docs_commands import readme_commands

    assert cmd not in readme_commands()
