"""History import for a gym moving from another system: `gympulse import`.

Three UTF-8 CSV files with a header row (any column order, extra columns ignored, `,` or `;`):

- planos.csv: nome, valor_mensal, duracao_meses
- alunos.csv: aluno_ref, nome, email, telefone, data_nascimento, plano, data_matricula,
  data_cancelamento
- checkins.csv: aluno_ref, entrada, saida

How it loads (one transaction per file, plans first, then members, then check-ins):

1. Before anything is written, every given file is checked as a whole: a readable file (not a
   directory), UTF-8, a header with each required column once (unknown columns are ignored and
   reported). A problem there refuses the import (`HistoryImportError`) and nothing is loaded.
2. Rows are parsed and checked in Python while they stream into a temporary staging table with
   COPY; each staged row carries its line number. A row lists every problem it has (bad date,
   negative price, saida before entrada, ...), each naming its column; the cells' values go to
   the rejects file only (`Problem`), not to the console.
3. Checks that need the database (unknown plan, unknown aluno_ref, e-mail of another member, a
   history that contradicts the stored one) run as set-based queries on the staging table, then
   one `INSERT ... SELECT ... ON CONFLICT DO NOTHING` per target table loads the rows without a
   problem. Running the same import twice adds nothing: plans are keyed by name, members by
   aluno_ref, status history by (aluno, instant, state), check-in events by a UUID derived
   from (aluno_ref, tipo, instant) (`checkin_uuid`).

A row repeated in its file (same key, same values) is skipped and counted in `duplicates`,
apart from the rows `already_present` in the database; the same key with other values is
rejected. Stored plans and members are never changed: a later export adds a cancellation the
stored history lacks; a member row with another data_matricula or data_cancelamento than the
stored ones, and check-ins that contradict a member's imported history (`checkins`), are
rejected; other columns that differ are counted in `kept_as_stored`.

Timestamps without a zone are in the gym's zone (`GYM_TIMEZONE`); a date alone is midnight
there. Dates may also be written dd/mm/yyyy. Members' `ativo` follows their latest status
(a member with data_cancelamento is inactive) and `atualizado_em` is bumped for every member
that was inserted or got new status history, so the API's member directory picks them up.

Modules: `files` (columns, whole-file checks, counting reader), `parsing` (dates, instants,
prices, check-in ids), `validation` (row checks calling `serving.rules`), `staging` (temp table +
COPY), `planos` / `alunos` / `checkins` (one loader per file), `progress` (the bar), `cache`
(invalidation after check-ins), `report` (counts, rejects), `pipeline` (`import_history`).
"""

from serving.history_import.alunos import REGISTERED_BY
from serving.history_import.checkins import ORIGEM
from serving.history_import.files import ALUNOS_COLUMNS, CHECKINS_COLUMNS, PLANOS_COLUMNS
from serving.history_import.parsing import (
    CHECKIN_NAMESPACE,
    Instants,
    checkin_uuid,
    uuid5_hex,
)
from serving.history_import.pipeline import import_history
from serving.history_import.report import (
    FileReport,
    HistoryImportError,
    ImportReport,
    Problem,
    Reject,
    write_rejects,
)

# The names bench/import_throughput.py has always imported.
_Instants = Instants
_uuid5_hex = uuid5_hex

__all__ = [
    "ALUNOS_COLUMNS",
    "CHECKINS_COLUMNS",
    "CHECKIN_NAMESPACE",
    "ORIGEM",
    "PLANOS_COLUMNS",
    "REGISTERED_BY",
    "FileReport",
    "HistoryImportError",
    "ImportReport",
    "Instants",
    "Problem",
    "Reject",
    "checkin_uuid",
    "import_history",
    "uuid5_hex",
    "write_rejects",
]
