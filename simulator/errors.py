"""The exceptions the spec names, under their first spelling (``simulator.Hangup``/``Error``).

They are defined once, in the contract (``callsim.contract.api``): ``Hangup`` when an operation
needs a live call but the call state is ``IDLE`` (the far end hung up), ``Error`` for other
failures, and ``ArgumentError`` (an ``Error`` and a ``ValueError``, decision SD-ARGS).
"""

from callsim.contract.api import ArgumentError, Error, Hangup

__all__ = ["Hangup", "Error", "ArgumentError"]
