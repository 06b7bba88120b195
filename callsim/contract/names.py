"""Media-file names: the vendor's naming rules, each with a rule ID.

ASCII letters, digits and ``. _ / @ -`` only; ``/`` separates folders; no ``..``, ``//``, ``.``
segments, leading or trailing ``/``; at most ``MAX_NAME_LENGTH`` characters. An extension is
*not* required (the vendor's own recorder examples write ``"recfile"``). ``validate_name``
reports the first broken rule; the media store and any recorder use this one definition.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["InvalidNameError", "MAX_NAME_LENGTH", "NAME_RULES", "checked_name", "is_valid_name", "validate_name"]

#: Our own limit on a name's length in characters (the vendor documents none); 255 is the usual
#: file-name limit of common file systems, so a single-component name always fits on disk.
MAX_NAME_LENGTH: Final = 255

# Rule identifiers, in the order validate_name checks them (the first broken rule is reported).
NAME_RULES: Final[tuple[str, ...]] = (
    "NAME-TYPE",
    "NAME-EMPTY",
    "NAME-TOO-LONG",
    "NAME-CHARS",
    "NAME-ABSOLUTE",
    "NAME-TRAILING-SLASH",
    "NAME-DOUBLE-SLASH",
    "NAME-DOTDOT",
    "NAME-DOT-SEGMENT",
)

# Explicit ASCII ranges: ``\w`` or ``\d`` would also accept non-ASCII letters and digits.
_NAME_CHARS = re.compile(r"[A-Za-z0-9._/@-]")


class InvalidNameError(ValueError):
    """A media-file name breaks a naming rule; ``rule`` is one of ``NAME_RULES``."""

    def __init__(self, rule: str, name: object, reason: str) -> None:
        self.rule = rule
        self.name = name
        super().__init__(f"{rule}: {reason}: {_show(name)}")



def _show(name: object) -> str:
    """repr of an offending name, shortened when huge so messages stay readable."""
    text = repr(name)
    if len(text) <= 80:
        return text
    length = len(name) if isinstance(name, str | bytes) else len(text)
    return f"{text[:60]}... ({length} characters)"


def validate_name(name: object) -> None:
    """Raise ``InvalidNameError`` naming the first broken rule, or return if ``name`` is valid.

    A ``str`` subclass is judged by its plain string value (``str.__str__``), never by methods
    it may override (``__iter__``, ``__contains__``, ``split``, ...): what is checked is exactly
    the string a store would use (``checked_name``)."""
    checked_name(name)


def checked_name(name: object) -> str:
    """``name`` as a plain ``str`` (a subclass's own string value), after ``validate_name``'s
    rules; ``InvalidNameError`` naming the first broken rule. A store uses the returned string,
    so the name it checks is the name it writes."""
    if not isinstance(name, str):
        raise InvalidNameError(
            "NAME-TYPE", name, f"a file name must be a str, not {type(name).__name__}"
        )
    name = str.__str__(name)  # an exact str: no overridden method can lie below
    if not name:
        raise InvalidNameError("NAME-EMPTY", name, "a file name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            "NAME-TOO-LONG",
            name,
            f"a file name has at most {MAX_NAME_LENGTH} characters, not {len(name)}",
        )
    for position, char in enumerate(name):
        if not _NAME_CHARS.fullmatch(char):
            raise InvalidNameError(
                "NAME-CHARS",
                name,
                f"character U+{ord(char):04X} at position {position} is not a letter, digit, "
                "'.', '_', '/', '@' or '-'",
            )
    if name.startswith("/"):
        raise InvalidNameError("NAME-ABSOLUTE", name, "a file name must not start with '/'")
    if name.endswith("/"):
        raise InvalidNameError("NAME-TRAILING-SLASH", name, "a file name must not end with '/'")
    if "//" in name:
        raise InvalidNameError("NAME-DOUBLE-SLASH", name, "'//' is forbidden")
    # The vendor forbids '..' outright, so 'a..b' is refused too, not only a '..' folder.
    if ".." in name:
        raise InvalidNameError("NAME-DOTDOT", name, "'..' is forbidden")
    # The vendor forbids '/./'; a leading './', a trailing '/.' and '.' alone are the same
    # segment at the edges and would not name a distinct file on disk either.
    if "." in name.split("/"):
        raise InvalidNameError("NAME-DOT-SEGMENT", name, "a '.' folder segment is forbidden")
    return name


def is_valid_name(name: object) -> bool:
    """True when ``validate_name`` accepts ``name``."""
    try:
        validate_name(name)
    except InvalidNameError:
        return False
    return True
