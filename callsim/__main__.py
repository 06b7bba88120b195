"""``python -m callsim``: the ``callsim`` command."""

import sys

from callsim.cli import main

sys.exit(main())
