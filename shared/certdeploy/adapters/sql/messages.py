"""The transactional outbox, processed message keys, API nonces and sent notifications."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, insert, select, update

from certdeploy.adapters.sql.repository import SqlRepository, check_key, chunks
from certdeploy.adapters.sql.schema import api_nonces, notifications_sent, outbox, processed_messages
from certdeploy.ports.store.messages import (
    MAX_NONCES_PER_ACCESS_KEY,
    NONCE_BATCH,
    OutboxMessage,
    OutboxRecord,
    TooManyNonces,
)


def _outbox_record(row: Row[Any]) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        queue=row.queue,
        body=row.body,
        key=row.message_key,
        delay_seconds=row.delay_seconds,
        created_at=row.created_at,
    )


class SqlOutbox(SqlRepository):
    """The `Outbox` port."""

    def add(self, messages: Sequence[OutboxMessage]) -> list[int]:
        now = self._now()
        rows = []
        for message in messages:
            check_key(message.key, "message key")
            rows.append(
                {
                    "queue": message.queue,
                    "body": message.body,
                    "message_key": message.key,
                    "delay_seconds": message.delay_seconds,
                    "created_at": now,
                }
            )
        if not rows:
            return []
        with self._connection(write=True) as conn:
            if conn.dialect.insert_executemany_returning_sort_by_parameter_order:
                statement = insert(outbox).returning(outbox.c.id, sort_by_parameter_order=True)
                return list(conn.execute(statement, rows).scalars())
            # MySQL has no INSERT ... RETURNING: one row at a time gives each id.
            return [conn.execute(insert(outbox).values(row)).inserted_primary_key[0] for row in rows]

    def pending(self, limit: int = 100, *, created_before: datetime | None = None) -> list[OutboxRecord]:
        query = select(outbox).where(outbox.c.sent_at.is_(None))
        if created_before is not None:
            query = query.where(outbox.c.created_at < created_before)
        with self._connection(write=False) as conn:
            return [_outbox_record(row) for row in conn.execute(query.order_by(outbox.c.id).limit(limit))]

    def unsent(self, ids: Collection[int]) -> list[OutboxRecord]:
        records: list[OutboxRecord] = []
        with self._connection(write=False) as conn:
            for chunk in chunks(sorted(set(ids))):
                query = select(outbox).where(outbox.c.id.in_(chunk), outbox.c.sent_at.is_(None)).order_by(outbox.c.id)
                records += [_outbox_record(row) for row in conn.execute(query)]
        return records

    def mark_sent(self, ids: Collection[int]) -> None:
        now = self._now()
        with self._connection(write=True) as conn:
            for chunk in chunks(sorted(set(ids))):
                conn.execute(
                    update(outbox).where(outbox.c.id.in_(chunk), outbox.c.sent_at.is_(None)).values(sent_at=now)
                )

    def delete_sent(self, sent_before: datetime) -> int:
        with self._connection(write=True) as conn:
            result = conn.execute(delete(outbox).where(outbox.c.sent_at < sent_before))
        return result.rowcount


class SqlProcessedMessages(SqlRepository):
    """The `ProcessedMessages` port."""

    def mark(self, key: str) -> bool:
        check_key(key, "message key")
        statement = insert(processed_messages).values(message_key=key, processed_at=self._now())
        with self._connection(write=True) as conn:
            return self._insert_if_absent(conn, statement)

    def forget(self, processed_before: datetime) -> int:
        with self._connection(write=True) as conn:
            result = conn.execute(
                delete(processed_messages).where(processed_messages.c.processed_at < processed_before)
            )
        return result.rowcount


class SqlNonces(SqlRepository):
    """The `Nonces` port."""

    def remember(
        self, access_key_id: str, key: str, expires_at: datetime, *, limit: int = MAX_NONCES_PER_ACCESS_KEY
    ) -> bool:
        check_key(key, "nonce key")
        mine = api_nonces.c.access_key_id == access_key_id
        with self._connection(write=True) as conn:
            conn.execute(delete(api_nonces).where(mine, api_nonces.c.expires_at < self._now()))
            held = select(api_nonces.c.nonce_key).where(mine).limit(limit).subquery()
            if conn.execute(select(func.count()).select_from(held)).scalar_one() >= limit:
                raise TooManyNonces(f"AccessKey {access_key_id} holds {limit} unexpired nonces.")
            statement = insert(api_nonces).values(nonce_key=key, access_key_id=access_key_id, expires_at=expires_at)
            return self._insert_if_absent(conn, statement)

    def forget_expired(self, *, batch: int = NONCE_BATCH) -> int:
        expired = (
            select(api_nonces.c.nonce_key)
            .where(api_nonces.c.expires_at < self._now())
            .order_by(api_nonces.c.expires_at)
            .limit(batch)
        )
        forgotten = 0
        while True:
            with self._connection(write=True) as conn:
                keys = list(conn.execute(expired).scalars())
                if keys:
                    conn.execute(delete(api_nonces).where(api_nonces.c.nonce_key.in_(keys)))
            forgotten += len(keys)
            if len(keys) < batch:
                return forgotten


class SqlSentNotifications(SqlRepository):
    """The `SentNotifications` port."""

    def record(self, account_id: int, event_key: str, contact_id: int, channel: str, address_digest: str = "") -> bool:
        check_key(event_key, "notification event key")
        statement = insert(notifications_sent).values(
            account_id=account_id,
            event_key=event_key,
            contact_id=contact_id,
            channel=channel,
            sent_at=self._now(),
            address_digest=address_digest or None,
        )
        with self._connection(write=True) as conn:
            return self._insert_if_absent(conn, statement)

    def sent(self, account_id: int, event_key: str) -> set[str]:
        query = select(notifications_sent.c.channel).where(
            notifications_sent.c.account_id == account_id, notifications_sent.c.event_key == event_key
        )
        with self._connection(write=False) as conn:
            return set(conn.execute(query).scalars())

    def count(self, account_id: int, since: datetime) -> int:
        table = notifications_sent
        return self._count(table.c.account_id == account_id, table.c.sent_at >= since)

    def count_to(self, address_digest: str, since: datetime) -> int:
        table = notifications_sent
        return self._count(table.c.address_digest == address_digest, table.c.sent_at >= since)

    def _count(self, *conditions: ColumnElement[bool]) -> int:
        query = select(func.count()).select_from(notifications_sent).where(*conditions)
        with self._connection(write=False) as conn:
            return int(conn.execute(query).scalar_one())
