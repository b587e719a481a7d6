"""The store: one relational database (adapters/sql), one repository per aggregate, grouped by a unit of work.

Rules every implementation keeps:
- Tenancy: every method that touches an account's rows takes `account_id`; another account's row reads as `NotFound`.
- Times go in and come out as timezone-aware UTC datetimes.
- State changes are conditional (expected status, optionally expected version). Losing a race raises `StaleState`
  (never a silent no-op), so the transaction that hit it rolls back with everything else it wrote.
- The store runs each call in its own transaction; `Store.transaction()` gives the same repositories on one
  transaction, so a state change and the outbox messages it causes commit together or not at all.
"""
