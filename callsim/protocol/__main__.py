"""``python -m callsim.protocol``: print the JSON Schema of every message as one JSON document."""

from __future__ import annotations

import json
import sys

from .schema import schema_document

json.dump(schema_document(), sys.stdout, indent=1)
print()
