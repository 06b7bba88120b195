"""Run a recorder command and keep a transcript: ``python3 protocol_tee.py LOG CMD ARGS...``.

Every line the harness writes (``in``) and the command answers (``out``) is appended to LOG as
``[direction, message]``; ``tests/test_protocol.py`` validates each against its schema.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

log_path, argv = sys.argv[1], sys.argv[2:]
child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
lock = threading.Lock()
log = open(log_path, "w")  # noqa: SIM115 - closed when the conversation ends


def note(direction: str, line: bytes) -> None:
    with lock:
        log.write(json.dumps([direction, json.loads(line)]) + "\n")


def pump_out() -> None:
    assert child.stdout is not None
    for line in child.stdout:
        note("out", line)
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()


t = threading.Thread(target=pump_out, daemon=True)
t.start()
assert child.stdin is not None
for line in sys.stdin.buffer:
    note("in", line)
    child.stdin.write(line)
    child.stdin.flush()
child.stdin.close()
child.wait()
t.join(5)
log.close()
