"""Staging one file: a temp table filled with COPY while the rows are parsed, each row with its
line number; the rows with the header's number of columns; rejects counted in the report."""

import contextlib
from collections.abc import Callable, Iterator

from serving.history_import.files import Source, rows
from serving.history_import.progress import Progress
from serving.history_import.report import FileReport, Reject

COPY_ROWS = 10_000  # staged rows per COPY write (about 1 MB)


class Stage:
    """One file's staging: its report, its rejects, and its rows with the header's number of
    columns (blank lines skipped, the others counted as read and rejected with their line)."""

    def __init__(self, source: Source, rep: FileReport, rejects: list[Reject]) -> None:
        self.source = source
        self.rep = rep
        self.rejects = rejects

    def reject(self, line: int, reason: str) -> None:
        self.rejects.append(Reject(self.source.name, line, reason))
        self.rep.rejected += 1

    def rows(self, reader: Iterator[list[str]], line_no: Callable[[], int]) -> Iterator[list[str]]:
        ncols = len(self.source.header)
        for row in reader:
            if not row:
                continue
            self.rep.read += 1
            if len(row) != ncols:
                self.reject(line_no(), f"expected {ncols} columns, found {len(row)}")
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
