"""The input files: their expected columns, the whole-file checks done before anything is
written (a readable file, UTF-8, a header with the required columns), and a CSV reader that
counts bytes."""

import codecs
import contextlib
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from serving.history_import.report import HistoryImportError

PLANOS_COLUMNS = ("nome", "valor_mensal", "duracao_meses")
ALUNOS_COLUMNS = (
    "aluno_ref",
    "nome",
    "email",
    "telefone",
    "data_nascimento",
    "plano",
    "data_matricula",
    "data_cancelamento",
)
CHECKINS_COLUMNS = ("aluno_ref", "entrada", "saida")


@dataclass
class Source:
    path: Path
    name: str
    delimiter: str
    header: list[str]
    index: dict[str, int]
    size: int
    ignored: tuple[str, ...] = ()  # header columns the import does not read


def open_source(path: Path, columns: tuple[str, ...]) -> Source:
    """The file, checked as a whole; HistoryImportError (one line naming the file and what to
    do) when it cannot be imported at all."""
    name = path.name
    if path.is_dir():
        raise HistoryImportError(f"{path}: is a directory, expected a CSV file")
    if not path.exists():
        raise HistoryImportError(f"{path}: file not found")
    if not path.is_file():
        raise HistoryImportError(f"{path}: not a regular file, expected a CSV file")
    try:
        size = path.stat().st_size
        check_utf8(path)
        with path.open(encoding="utf-8-sig", newline="") as f:
            first = f.readline()
    except OSError as exc:
        raise HistoryImportError(
            f"{path}: cannot be read ({exc.strerror or exc}); check its permissions"
        ) from None
    if not first.strip():
        raise HistoryImportError(f"{name}: empty file, expected a header row: {', '.join(columns)}")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = [h.strip().lower() for h in next(csv.reader([first], delimiter=delimiter))]
    _check_header(name, header, columns)
    index = {c: header.index(c) for c in columns}
    ignored = tuple(h for h in header if h and h not in columns)
    return Source(path, name, delimiter, header, index, size, ignored)


def _check_header(name: str, header: list[str], columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in header]
    twice = sorted({c for c in columns if header.count(c) > 1})
    if twice:
        raise HistoryImportError(
            f"{name}: column{_plural(twice)} {', '.join(twice)} appear{'' if twice[1:] else 's'} "
            "more than once in the header row; the file was not imported"
        )
    if missing:
        unknown = [h for h in header if h and h not in columns]
        found = f"unknown: {', '.join(unknown)}; " if unknown else ""
        raise HistoryImportError(
            f"{name}: missing column{_plural(missing)} {', '.join(missing)} in the header row "
            f"({found}expected: {', '.join(columns)}); the file was not imported"
        )


def _plural(items: list[str]) -> str:
    return "s" if len(items) > 1 else ""


def check_utf8(path: Path) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line += chunk.count(b"\n", 0, exc.start)
                raise HistoryImportError(
                    f"{path.name}: not UTF-8 (invalid byte at line {line}); "
                    "save it as UTF-8 and import again"
                ) from None
            nul = chunk.find(b"\x00")
            if nul >= 0:
                line += chunk.count(b"\n", 0, nul)
                raise HistoryImportError(
                    f"{path.name}: NUL byte at line {line}: not a UTF-8 text file "
                    "(UTF-16 or binary?); save it as UTF-8 CSV and import again"
                )
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise HistoryImportError(f"{path.name}: not UTF-8 (truncated at the end)") from None


class CountingReader(io.RawIOBase):
    """Counts the bytes read, for the progress bar."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.raw.readinto(buffer) or 0
        self.count += n
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


@contextlib.contextmanager
def rows(source: Source) -> Iterator[tuple[Iterator[list[str]], Callable[[], int], Callable]]:
    """(csv reader positioned after the header, bytes read so far, line number of last row)."""
    counter = CountingReader(source.path.open("rb", buffering=0))
    text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 20), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=source.delimiter)
    try:
        next(reader)
        yield reader, (lambda: counter.count), (lambda: reader.line_num)
    except csv.Error as exc:  # e.g. a field over the size limit: the file is not what it says
        raise HistoryImportError(
            f"{source.name}: unreadable CSV at line {reader.line_num}: {exc}; "
            "the file was not imported"
        ) from None
    finally:
        text.close()
