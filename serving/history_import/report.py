"""What an import returns: counts per file, and the rejected rows with file, line and every
problem of the row."""

import csv
from dataclasses import dataclass, field
from pathlib import Path


class HistoryImportError(Exception):
    """A whole file cannot be imported: missing, a directory, unreadable, not UTF-8, empty, or a
    header without the required columns."""


@dataclass(frozen=True)
class Problem:
    """One problem of a row. `text` names the column and what is wrong, and is what the console
    shows; `private` is the rest (the cell as written, the stored value it contradicts), which
    only the rejects file holds: members' personal data stays out of terminals and logs."""

    text: str
    private: str | None = None

    @property
    def full(self) -> str:
        return self.text if self.private is None else f"{self.text}: {self.private}"


def cell(text: str) -> str:
    """A cell's value as quoted in the rejects file."""
    return f"'{text}'"


@dataclass(frozen=True)
class Reject:
    file: str
    line: int
    problems: tuple[Problem, ...]

    @property
    def reason(self) -> str:
        """Every problem with its values: the rejects file."""
        return "; ".join(p.full for p in self.problems)

    @property
    def summary(self) -> str:
        """Every problem without the cells' values: the console."""
        return "; ".join(p.text for p in self.problems)


@dataclass
class FileReport:
    """Counts for one file. `read` and `rejected` are data rows; `inserted`, `already_present`
    and `duplicates` are rows of the target table (plans, members, check-in events: a check-in
    row with a saida is two events). `duplicates` are repeated inside the file itself (same key,
    same values: skipped), `already_present` were stored before. `kept_as_stored` counts, per
    column, the already-present rows whose value in the file differs: an import never changes a
    stored plan or member (see the package docstring)."""

    file: str
    read: int = 0
    rejected: int = 0
    inserted: int = 0
    already_present: int = 0
    duplicates: int = 0
    unit: str = "rows"
    ignored_columns: tuple[str, ...] = ()
    kept_as_stored: dict[str, int] = field(default_factory=dict)
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
    """The rejects as CSV (file, line, reason with the cells' values): the user's own rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("file", "line", "reason"))
        writer.writerows((r.file, r.line, r.reason) for r in rejects)
    return path
