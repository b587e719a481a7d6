"""`enum.StrEnum` for Python 3.10 too (the FC python3.10 runtime): members are strings and print as their value."""

from __future__ import annotations

from enum import Enum


class TextEnum(str, Enum):
    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(str(self.value), format_spec)
