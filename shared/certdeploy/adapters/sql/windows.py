"""Maintenance windows (the `MaintenanceWindows` port): a few rows per account, read whole."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select

from certdeploy.adapters.sql.repository import SqlRepository
from certdeploy.adapters.sql.schema import maintenance_windows
from certdeploy.domain.errors import NotFound, Thing
from certdeploy.domain.windows import Window, WindowSpec

_table = maintenance_windows


def _window(row: Row[Any]) -> Window:
    return Window(
        id=row.id,
        account_id=row.account_id,
        days=tuple(row.days),
        start=row.start_time,
        duration_minutes=row.duration_minutes,
        time_zone=row.time_zone,
        tag_key=row.tag_key,
        tag_value=row.tag_value,
        created_at=row.created_at,
    )


class SqlMaintenanceWindows(SqlRepository):
    def add(self, account_id: int, spec: WindowSpec) -> Window:
        values = {
            "account_id": account_id,
            "days": list(spec.days),
            "start_time": spec.start,
            "duration_minutes": spec.duration_minutes,
            "time_zone": spec.time_zone,
            "tag_key": spec.tag_key,
            "tag_value": None if spec.tag_key is None else spec.tag_value or "",
            "created_at": self._now(),
        }
        with self._connection(write=True) as conn:
            window_id = conn.execute(insert(_table).values(values)).inserted_primary_key[0]
            return _window(conn.execute(select(_table).where(_table.c.id == window_id)).one())

    def of_account(self, account_id: int) -> list[Window]:
        query = select(_table).where(_table.c.account_id == account_id).order_by(_table.c.id)
        with self._connection(write=False) as conn:
            return [_window(row) for row in conn.execute(query)]

    def delete(self, account_id: int, window_id: int) -> None:
        with self._connection(write=True) as conn:
            gone = conn.execute(delete(_table).where(_table.c.id == window_id, _table.c.account_id == account_id))
            if gone.rowcount == 0:
                raise NotFound.of(Thing.WINDOW, window_id)
