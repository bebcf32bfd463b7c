"""Staging one file: a temp table filled with COPY while the rows are parsed, each row with its
line number; the problems found per row (in Python, then by set-based queries on the stage),
which become the file's rejects."""

import contextlib
from collections.abc import Callable, Iterable, Iterator

from serving.history_import.files import Source, rows
from serving.history_import.progress import Progress
from serving.history_import.report import FileReport, Problem, Reject

COPY_ROWS = 10_000  # staged rows per COPY write (about 1 MB)


class Stage:
    """One file's staging: its report, the problems of its rows by line, and its rows with the
    header's number of columns (blank lines skipped, the others counted as read and flagged)."""

    def __init__(self, source: Source, rep: FileReport, rejects: list[Reject]) -> None:
        self.source = source
        self.rep = rep
        self.rejects = rejects
        self.problems: dict[int, list[Problem]] = {}
        rep.ignored_columns = source.ignored

    def flag(self, line: int, *problems: Problem) -> None:
        """Record problems of a row; a flagged row is rejected and never loaded."""
        self.problems.setdefault(line, []).extend(problems)

    def flag_rows(self, flagged: Iterable[tuple[int, Problem]]) -> list[int]:
        """Record problems found by a query; returns the lines that were not flagged before."""
        new: list[int] = []
        for line, problem in flagged:
            if line not in self.problems:
                new.append(line)
            self.flag(line, problem)
        return new

    def drop_flagged(self, conn, table: str) -> None:
        """Take the flagged rows out of the staging table (they are only staged so that the
        database checks can list their problems too)."""
        if self.problems:
            conn.execute(
                f"delete from {table} s using unnest(%s::int[]) as f(line) where s.line = f.line",
                (list(self.problems),),
            )

    def finish(self) -> None:
        """The flagged rows become the file's rejects, in line order."""
        self.rep.rejected = len(self.problems)
        name = self.source.name
        self.rejects.extend(
            Reject(name, line, tuple(self.problems[line])) for line in sorted(self.problems)
        )

    def rows(self, reader: Iterator[list[str]], line_no: Callable[[], int]) -> Iterator[list[str]]:
        ncols = len(self.source.header)
        for row in reader:
            if not row:
                continue
            self.rep.read += 1
            if len(row) != ncols:
                self.flag(line_no(), Problem(f"expected {ncols} columns, found {len(row)}"))
                continue
            yield row


@contextlib.contextmanager
def staged(conn, stage: Stage, table: str, columns: str, bar: Progress):
    """A temp table (dropped at commit) and a COPY into it, with the file's rows:
    yields (rows, line number of the current row, copy, progress callback)."""
    conn.execute(f"create temp table {table} ({columns}) on commit drop")
    task = bar.add(f"reading {stage.source.name}", stage.source.size)
    with (
        rows(stage.source) as (reader, read_bytes, line_no),
        conn.cursor().copy(f"copy {table} from stdin") as copy,
    ):

        def progress() -> None:
            bar.update(task, completed=read_bytes())

        yield stage.rows(reader, line_no), line_no, copy, progress
        progress()
