"""at most one pending job per kind and arguments

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

A job is pending while it is queued or running (`serving.vocabulary.UNFINISHED_JOB_STATES`). The
partial unique index `uq_jobs_one_pending` on (tipo, parametros) lets the database refuse a
second pending job with the same arguments, whatever the timing of two requests:
`serving.jobs.enqueue_job` answers such a request with the job already pending. `parametros` is
jsonb, whose equality ignores key order and spacing; which arguments are the same job is the
routes' normalisation (serving/api/routes/jobs.py, relatorios.py).

A database may already hold duplicates (a flood queued hundreds of reports of the same day):
before the index is built, each set of pending duplicates keeps one job, the running one or else
the oldest (its message is first in line), and the others are failed with a message naming it.
Their messages are then ignored by the worker, which only starts unfinished jobs. The downgrade
drops the index and leaves those jobs failed.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_jobs_one_pending"
# The states spelled as serving.vocabulary.UNFINISHED_JOB_STATES (a migration is frozen in time,
# so it does not import the vocabulary; a test compares them).
PENDING = "estado in ('queued', 'running')"

FAIL_DUPLICATES = f"""
with ranked as (
    select
        id,
        first_value(id) over same_job as kept_id,
        row_number() over same_job as position
    from jobs
    where {PENDING}
    window same_job as (
        partition by tipo, parametros
        order by (estado = 'running') desc, criado_em, id
    )
)
update jobs
set
    estado = 'failed',
    mensagem = null,
    erro = 'duplicate of pending job ' || ranked.kept_id || ' (same kind and arguments)',
    terminado_em = now()
from ranked
where jobs.id = ranked.id and ranked.position > 1
"""


def upgrade() -> None:
    op.execute(FAIL_DUPLICATES)
    op.execute(f"create unique index {INDEX} on jobs (tipo, parametros) where {PENDING}")


def downgrade() -> None:
    op.execute(f"drop index {INDEX}")
