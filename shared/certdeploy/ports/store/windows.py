"""An account's maintenance windows (docs/decisions.md#maintenance-windows)."""

from __future__ import annotations

from typing import Protocol

from certdeploy.domain.windows import Window, WindowSpec


class MaintenanceWindows(Protocol):
    def add(self, account_id: int, spec: WindowSpec) -> Window:
        """A new window of the account."""
        ...

    def of_account(self, account_id: int) -> list[Window]:
        """The account's windows, oldest first."""
        ...

    def delete(self, account_id: int, window_id: int) -> None:
        """Raises `NotFound` if the account has no such window."""
        ...
