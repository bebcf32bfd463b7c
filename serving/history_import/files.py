"""The input files: their expected columns, the whole-file checks done before anything is
written (exists, UTF-8, header with the required columns), and a CSV reader that counts bytes."""

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


def open_source(path: Path, columns: tuple[str, ...]) -> Source:
    name = path.name
    if not path.is_file():
        raise HistoryImportError(f"{path}: file not found")
    size = path.stat().st_size
    check_utf8(path)
    with path.open(encoding="utf-8-sig", newline="") as f:
        first = f.readline()
    if not first.strip():
        raise HistoryImportError(f"{name}: empty file, expected a header row: {', '.join(columns)}")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = [h.strip().lower() for h in next(csv.reader([first], delimiter=delimiter))]
    missing = [c for c in columns if c not in header]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise HistoryImportError(
            f"{name}: missing column{plural} {', '.join(missing)} in the header row "
            f"(found: {', '.join(h for h in header if h) or 'nothing'}; "
            f"expected: {', '.join(columns)}); the file was not imported"
        )
    index = {c: header.index(c) for c in columns}
    return Source(path, name, delimiter, header, index, size)


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
