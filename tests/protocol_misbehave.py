"""A recorder process that breaks the wire protocol on purpose: ``python3 protocol_misbehave.py MODE``.

Used by ``tests/test_protocol.py``. It imports nothing heavy (starts in milliseconds), answers
the handshake and ``open`` like a correct implementation, and misbehaves on the first API call:

* ``never``: never answers anything, not even ``hello``;
* ``stall``: shakes hands, then never answers the API call;
* ``exit``: exits at once with status 3;
* ``crash``: starts a job (``store_open``, ``sink_add``), writes to stderr, then dies of SIGSEGV;
* ``garbage``: answers the API call with a line that is not JSON;
* ``order``: answers the API call with a reply to a request that is not pending;
* ``flood``: answers the API call with an endless line.
"""

from __future__ import annotations

import json
import os
import signal
import sys

MODE = sys.argv[1]


def send(msg: dict) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def read() -> dict:
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    return json.loads(line)


if MODE == "exit":
    sys.exit(3)
if MODE == "never":
    for _ in sys.stdin:
        pass
    sys.exit(0)

while True:
    m = read()
    if m["type"] == "hello":
        send({"type": "hello", "re": m["id"], "protocol": 1, "implementation": {"name": f"misbehave-{MODE}"}})
    elif m["type"] in ("open", "close", "commit", "event"):
        send({"type": "ok", "re": m["id"]})
    elif m["type"] == "scan":
        send({"type": "scanned", "re": m["id"], "stop": None})
    elif m["type"] == "invoke":
        if MODE == "crash":
            send({"type": "store_open", "id": 1, "call": m["call"], "name": "crash.wav"})
            read()
            send({"type": "sink_add", "id": 2, "call": m["call"], "first_tick": 0, "finish_alone": False})
            read()
            sys.stderr.write("about to crash: segmentation fault in encoder\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGSEGV)
        elif MODE == "stall":
            import time

            time.sleep(3600)
        elif MODE == "garbage":
            sys.stdout.write("\x1b[2J this is not JSON {{{\n")
            sys.stdout.flush()
        elif MODE == "order":
            send({"type": "return", "re": m["id"] + 1000, "value": True})
        elif MODE == "flood":
            chunk = "x" * 65536
            try:
                while True:
                    sys.stdout.write(chunk)
            except BrokenPipeError:
                sys.exit(0)
        read()
