"""`enum.StrEnum` for Python 3.10 too (the FC python3.10 runtime): members are strings and print as their value."""

from __future__ import annotations

from enum import Enum


class TextEnum(str, Enum):
    # A member is the str of its value, so str's own methods give the value without going through `Enum.value` (a
    # descriptor lookup per call, and the store turns an enum into text for every row it writes).
    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)
