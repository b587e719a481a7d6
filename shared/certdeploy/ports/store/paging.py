"""One page of a listing. Paging is 1-based; `page_size` rows per page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

_Item = TypeVar("_Item")


@dataclass(frozen=True)
class Page(Generic[_Item]):
    items: list[_Item]
    total: int
