"""callsim's simulator: a virtual call on an integer clock, scripted far-end audio and events,
a media store, and the seam (``CallChannel``) a recorder is built against.

Importing it changes nothing in the process (no environment variable, no library setting):
whoever needs a setting applies it where it is needed, as the DTMF detector limits BLAS threads
around its own products.
"""

from .channel import CallChannel, CallState, LockStepThread
from .clock import FRAME, TICKS_PER_MS, TICKS_PER_SECOND, Clock, Deadlock, Priority, SimulationLimit
from .errors import ArgumentError, Error, Hangup
from .scenario import Scenario, ScenarioBuilder, ScenarioError, load_scenario, loads_scenario

__all__ = [
    "ArgumentError",
    "CallChannel",
    "CallState",
    "Clock",
    "Deadlock",
    "Error",
    "FRAME",
    "Hangup",
    "LockStepThread",
    "Priority",
    "Scenario",
    "ScenarioBuilder",
    "ScenarioError",
    "SimulationLimit",
    "TICKS_PER_MS",
    "TICKS_PER_SECOND",
    "load_scenario",
    "loads_scenario",
]
