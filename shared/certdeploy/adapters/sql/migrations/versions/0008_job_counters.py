"""Job counters: each job row keeps its workers counted per product and status, and how many certificates they
deploy, so a finishing worker and the status reads answer from one row instead of aggregating the workers
(docs/runtime.md#job-execution). Existing jobs are counted once here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from certdeploy.adapters.sql.schema import WorkerCounts

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The tables as this revision knows them, whatever schema.py says later.
_jobs = sa.table(
    "jobs",
    sa.column("id", sa.BigInteger),
    sa.column("worker_counts", WorkerCounts),
    sa.column("worker_cert_count", sa.Integer),
)
_workers = sa.table(
    "workers",
    sa.column("job_id", sa.BigInteger),
    sa.column("cert_id", sa.BigInteger),
    sa.column("product", sa.String),
    sa.column("status", sa.String),
)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("worker_counts", sa.Text().with_variant(sa.Text(), "mysql"), nullable=True))
    op.add_column("jobs", sa.Column("worker_cert_count", sa.Integer(), nullable=False, server_default="0"))
    conn = op.get_bind()
    counts: dict[int, dict[tuple[str, str], int]] = {}
    query = sa.select(_workers.c.job_id, _workers.c.product, _workers.c.status, sa.func.count()).group_by(
        _workers.c.job_id, _workers.c.product, _workers.c.status
    )
    for job_id, product, status, count in conn.execute(query):
        counts.setdefault(job_id, {})[(product, status)] = count
    certs = sa.select(_workers.c.job_id, sa.func.count(sa.distinct(_workers.c.cert_id))).group_by(_workers.c.job_id)
    cert_counts = dict(conn.execute(certs).all())
    for job_id in conn.execute(sa.select(_jobs.c.id)).scalars().all():
        conn.execute(
            sa.update(_jobs)
            .where(_jobs.c.id == job_id)
            .values(worker_counts=counts.get(job_id, {}), worker_cert_count=cert_counts.get(job_id, 0))
        )


def downgrade() -> None:
    op.drop_column("jobs", "worker_cert_count")
    op.drop_column("jobs", "worker_counts")
