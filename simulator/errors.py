"""The exceptions the spec names, as the simulated platform raises them.

``Hangup`` and ``Error`` are the two exceptions of the vendor's call API: ``Hangup`` when an
operation needs a live call but the call state is ``IDLE`` (the far end hung up), ``Error`` for
other failures (the call is in another non-answered state, a job is already running, or, as
our decision SD-ARGS, an argument is invalid: see ``ArgumentError``).
"""

from __future__ import annotations

__all__ = ["Hangup", "Error", "ArgumentError"]


class Hangup(Exception):
    """The call has been hung up (call state ``IDLE``)."""


class Error(Exception):
    """An operation failed: wrong call state, job already running, or a bad argument."""


class ArgumentError(Error, ValueError):
    """An argument is of the wrong type or out of range (decision SD-ARGS).

    It is an ``Error`` (so code written to the spec's ``except Error`` catches it) and a
    ``ValueError`` (so ordinary Python code does too). ``parameter`` names the parameter and
    ``value`` holds a safe ``repr`` of the rejected value.
    """

    def __init__(self, parameter: str, value: object, reason: str) -> None:
        self.parameter = parameter
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {parameter}={_safe_repr(value)}: {reason}")


def _safe_repr(value: object, limit: int = 80) -> str:
    try:
        text = repr(value)
    except ValueError:  # e.g. an int too long for repr (Python's 4300-digit limit)
        digits = value.bit_length() * 30103 // 100000 + 1 if isinstance(value, int) else None
        return f"<int with about {digits} digits>" if digits else f"<{type(value).__name__}>"
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the argument error
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
