"""What an import returns: counts per file, and the rejected rows with file, line and reason."""

import csv
from dataclasses import dataclass, field
from pathlib import Path


class HistoryImportError(Exception):
    """A whole file cannot be imported: missing, not UTF-8, empty, or missing a column."""


@dataclass(frozen=True)
class Reject:
    file: str
    line: int
    reason: str


@dataclass
class FileReport:
    """Counts for one file. `read` and `rejected` are data rows; `inserted` and
    `already_present` are rows of the target table (plans, members, check-in events: a
    check-in row with a saida is two events)."""

    file: str
    read: int = 0
    rejected: int = 0
    inserted: int = 0
    already_present: int = 0
    unit: str = "rows"
    seconds_read: float = 0.0  # parsing and COPY into the staging table
    seconds_load: float = 0.0  # set-based checks and INSERT ... SELECT, up to the commit


@dataclass
class ImportReport:
    planos: FileReport | None = None
    alunos: FileReport | None = None
    checkins: FileReport | None = None
    status_inserted: int = 0  # rows added to alunos_status_historico
    members_updated: int = 0  # members whose ativo/atualizado_em were set
    rejects: list[Reject] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def files(self) -> list[FileReport]:
        return [f for f in (self.planos, self.alunos, self.checkins) if f is not None]


def write_rejects(rejects: list[Reject], path: Path) -> Path:
    """The rejects as CSV (file, line, reason)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("file", "line", "reason"))
        writer.writerows((r.file, r.line, r.reason) for r in rejects)
    return path
