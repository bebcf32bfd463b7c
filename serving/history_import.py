"""History import for a gym moving from another system: `gympulse import`.

Three UTF-8 CSV files with a header row (any column order, extra columns ignored, `,` or `;`):

- planos.csv: nome, valor_mensal, duracao_meses
- alunos.csv: aluno_ref, nome, email, telefone, data_nascimento, plano, data_matricula,
  data_cancelamento
- checkins.csv: aluno_ref, entrada, saida

How it loads (one transaction per file, plans first, then members, then check-ins):

1. Before anything is written, every given file is checked as a whole: it exists, it is UTF-8,
   it has a header with the required columns. A problem there refuses the import
   (`HistoryImportError`) and nothing is loaded.
2. Rows are parsed and checked in Python while they stream into a temporary staging table with
   COPY; each staged row carries its line number. Rows that fail (bad date, negative price,
   saida before entrada, duplicate aluno_ref in the file, ...) become `Reject`s.
3. Checks that need the database (unknown plan, unknown aluno_ref, e-mail of another member) run
   as set-based queries on the staging table, then one `INSERT ... SELECT ... ON CONFLICT DO
   NOTHING` per target table loads the rest. Running the same import twice adds nothing:
   plans are keyed by name, members by aluno_ref, status history by (aluno, instant, state),
   check-in events by a UUID derived from (aluno_ref, tipo, instant) (`checkin_uuid`).

Timestamps without a zone are in the gym's zone (`GYM_TIMEZONE`); a date alone is midnight
there. Dates may also be written dd/mm/yyyy. Members' `ativo` follows their latest status
(a member with data_cancelamento is inactive) and `atualizado_em` is bumped for every member
that was inserted or got new status history, so the API's member directory picks them up.
"""

import codecs
import contextlib
import csv
import hashlib
import io
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

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

# Namespace of the check-in ids made by the import: uuid5(CHECKIN_NAMESPACE, name), see
# `checkin_uuid`. Fixed forever: changing it would make a re-import duplicate every event.
CHECKIN_NAMESPACE = uuid.UUID("6f1c2a52-8d0e-5b7a-9c1e-3a7d4f0b9e21")
ORIGEM = "import"
REGISTERED_BY = "import"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_VALOR = Decimal("99999999.99")
_COPY_ROWS = 10_000  # staged rows per COPY write (about 1 MB)


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


# --- public entry point ---------------------------------------------------------------------


def import_history(
    planos: Path | None,
    alunos: Path | None,
    checkins: Path | None,
    *,
    database_url: str | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import the given files (any may be None) into the database; see the module docstring.
    Raises HistoryImportError for a whole-file problem, found before anything is written
    (except a CSV that turns unreadable mid-file: that file is rolled back, the files before it
    stay loaded). Database errors are psycopg's."""
    from serving.config import get_settings
    from serving.db.engine import libpq_url

    started = time.monotonic()
    settings = get_settings()
    tz = settings.tz
    sources = {
        name: _open_source(Path(path), columns)
        for name, path, columns in (
            ("planos", planos, PLANOS_COLUMNS),
            ("alunos", alunos, ALUNOS_COLUMNS),
            ("checkins", checkins, CHECKINS_COLUMNS),
        )
        if path is not None
    }
    report = ImportReport()
    if not sources:
        return report
    url = libpq_url(database_url or settings.database_url)
    with _Progress(progress) as bar, psycopg.connect(url) as conn:
        conn.execute("select set_config('TimeZone', %s, false)", (settings.gym_timezone,))
        conn.commit()
        if "planos" in sources:
            report.planos = _import_planos(conn, sources["planos"], report.rejects, bar)
        if "alunos" in sources:
            report.alunos = _import_alunos(conn, sources["alunos"], tz, report, bar)
        if "checkins" in sources:
            report.checkins, members = _import_checkins(
                conn, sources["checkins"], tz, report.rejects, bar
            )
            _invalidate_cache(settings, members)
    order = {source.name: i for i, source in enumerate(sources.values())}
    report.rejects.sort(key=lambda r: (order.get(r.file, len(order)), r.line))
    report.seconds = time.monotonic() - started
    return report


def checkin_uuid(aluno_ref: str, tipo: str, instant: datetime, tz: tzinfo) -> uuid.UUID:
    """The id of an imported check-in event: uuid5 over "aluno_ref|tipo|local ISO time with
    offset", the instant written in the gym's zone (e.g. "A17|entrada|2026-01-05T07:30:00-03:00")."""
    local = instant.astimezone(tz)
    return uuid.uuid5(CHECKIN_NAMESPACE, f"{aluno_ref}|{tipo}|{local.isoformat()}")


def write_rejects(rejects: list[Reject], path: Path) -> Path:
    """The rejects as CSV (file, line, reason)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("file", "line", "reason"))
        writer.writerows((r.file, r.line, r.reason) for r in rejects)
    return path


# --- files ----------------------------------------------------------------------------------


@dataclass
class _Source:
    path: Path
    name: str
    delimiter: str
    header: list[str]
    index: dict[str, int]
    size: int


def _open_source(path: Path, columns: tuple[str, ...]) -> _Source:
    name = path.name
    if not path.is_file():
        raise HistoryImportError(f"{path}: file not found")
    size = path.stat().st_size
    _check_utf8(path)
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
    return _Source(path, name, delimiter, header, index, size)


def _check_utf8(path: Path) -> None:
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


class _CountingReader(io.RawIOBase):
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
def _rows(source: _Source) -> Iterator[tuple[Iterator[list[str]], Callable[[], int], Callable]]:
    """(csv reader positioned after the header, bytes read so far, line number of last row)."""
    counter = _CountingReader(source.path.open("rb", buffering=0))
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


class _Progress:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def add(self, description: str, total: float | None) -> int | None:
        return self.bar.add_task(description, total=total) if self.bar else None

    def update(self, task: int | None, **kwargs) -> None:
        if self.bar is not None and task is not None:
            self.bar.update(task, **kwargs)


# --- parsing helpers ------------------------------------------------------------------------


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        if "/" not in text:
            raise
        return datetime.strptime(text, "%d/%m/%Y").date()


def _parse_instant(text: str, tz: tzinfo) -> datetime:
    """ISO 8601 date or timestamp (or dd/mm/yyyy [hh:mm[:ss]]); naive means the gym's zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        if "/" not in text:
            raise
        value = None
        for fmt in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"):
            with contextlib.suppress(ValueError):
                value = datetime.strptime(text, fmt)
                break
        if value is None:
            raise
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def _copy_text(value: str) -> str:
    """Escape for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


class _Stage:
    """One file's staging: its report, its rejects, and its rows with the header's number of
    columns (blank lines skipped, the others counted as read and rejected with their line)."""

    def __init__(self, source: _Source, rep: FileReport, rejects: list[Reject]) -> None:
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
def _staged(conn, stage: _Stage, table: str, columns: str, bar: _Progress):
    """A temp table (dropped at commit) and a COPY into it, with the file's rows:
    yields (rows, line number of the current row, copy, progress callback)."""
    conn.execute(f"create temp table {table} ({columns}) on commit drop")
    task = bar.add(f"reading {stage.source.name}", stage.source.size)
    with (
        _rows(stage.source) as (reader, read_bytes, line_no),
        conn.cursor().copy(f"copy {table} from stdin") as copy,
    ):

        def progress() -> None:
            bar.update(task, completed=read_bytes())

        yield stage.rows(reader, line_no), line_no, copy, progress
        progress()


# --- planos ---------------------------------------------------------------------------------


def _import_planos(conn, source: _Source, rejects: list[Reject], bar: _Progress) -> FileReport:
    stage = _Stage(source, FileReport(source.name), rejects)
    rep, reject = stage.rep, stage.reject
    i_nome, i_valor, i_duracao = (source.index[c] for c in PLANOS_COLUMNS)
    seen: dict[str, int] = {}
    columns = "line int, nome text, valor_mensal numeric(10, 2), duracao_meses int"

    with conn.transaction():
        with _staged(conn, stage, "imp_planos", columns, bar) as (rows, line_no, copy, _):
            for row in rows:
                line = line_no()
                nome = row[i_nome].strip()
                valor_text = row[i_valor].strip()
                duracao_text = row[i_duracao].strip()
                if not nome:
                    reject(line, "missing nome")
                    continue
                if len(nome) > 80:
                    reject(line, "nome longer than 80 characters")
                    continue
                if nome in seen:
                    reject(line, f"duplicate plan '{nome}' (first at line {seen[nome]})")
                    continue
                seen[nome] = line
                try:
                    if "," in valor_text and "." not in valor_text:
                        valor_text = valor_text.replace(",", ".")  # 129,90
                    valor = Decimal(valor_text)
                    if not valor.is_finite():
                        raise InvalidOperation
                except InvalidOperation:
                    reject(line, f"bad valor_mensal: '{row[i_valor]}'")
                    continue
                if valor < 0:
                    reject(line, f"negative valor_mensal: '{row[i_valor]}'")
                    continue
                if valor > _MAX_VALOR:
                    reject(line, f"valor_mensal too large: '{row[i_valor]}'")
                    continue
                try:
                    duracao = int(duracao_text)
                except ValueError:
                    reject(line, f"bad duracao_meses: '{row[i_duracao]}'")
                    continue
                if not 1 <= duracao <= 60:
                    reject(line, f"duracao_meses must be between 1 and 60: '{row[i_duracao]}'")
                    continue
                copy.write_row((line, nome, valor, duracao))
        cur = conn.execute(
            "insert into planos (nome, valor_mensal, duracao_meses) "
            "select nome, valor_mensal, duracao_meses from imp_planos order by line "
            "on conflict (nome) do nothing"
        )
        rep.inserted = cur.rowcount
        valid = rep.read - rep.rejected
        rep.already_present = valid - rep.inserted
    return rep


# --- alunos ---------------------------------------------------------------------------------


def _import_alunos(conn, source: _Source, tz: tzinfo, report: ImportReport, bar) -> FileReport:
    stage = _Stage(source, FileReport(source.name), report.rejects)
    rep, reject = stage.rep, stage.reject
    idx = [source.index[c] for c in ALUNOS_COLUMNS]
    refs: dict[str, int] = {}
    emails: dict[str, int] = {}
    columns = (
        "line int, aluno_ref text, nome text, email text, telefone text, data_nascimento date, "
        "plano text, data_matricula timestamptz, data_cancelamento timestamptz"
    )

    with conn.transaction():
        with _staged(conn, stage, "imp_alunos", columns, bar) as (rows, line_no, copy, progress):
            for row in rows:
                line = line_no()
                ref, nome, email, telefone, nasc, plano, matricula, cancelamento = (
                    row[i].strip() for i in idx
                )
                reason = None
                if not ref:
                    reason = "missing aluno_ref"
                elif ref in refs:
                    reason = f"duplicate aluno_ref '{ref}' (first at line {refs[ref]})"
                if ref and ref not in refs:
                    refs[ref] = line
                if reason is None:
                    reason = _check_member(ref, nome, email, telefone, plano)
                if reason is None and email:
                    key = email.lower()
                    if key in emails:
                        reason = f"duplicate email '{email}' (first at line {emails[key]})"
                    else:
                        emails[key] = line
                nascimento = None
                if reason is None and nasc:
                    try:
                        nascimento = _parse_date(nasc)
                    except ValueError:
                        reason = f"bad date in data_nascimento: '{nasc}'"
                if reason is None:
                    reason, entrou, saiu = _member_dates(matricula, cancelamento, tz)
                if reason is not None:
                    reject(line, reason)
                    continue
                values = (line, ref, nome, email or None, telefone or None, nascimento)
                copy.write_row((*values, plano, entrou, saiu))
                if rep.read % 5000 == 0:
                    progress()
        conn.execute("analyze imp_alunos")
        bad: list[tuple[int, str]] = []
        for line, plano in conn.execute(
            "select line, plano from imp_alunos s "
            "where not exists (select 1 from planos p where p.nome = s.plano)"
        ):
            bad.append((line, f"unknown plan '{plano}'"))
        for line, email in conn.execute(
            "select s.line, s.email from imp_alunos s "
            "join alunos a on lower(a.email) = lower(s.email) "
            "where s.email is not null and a.aluno_ref is distinct from s.aluno_ref"
        ):
            bad.append((line, f"email '{email}' already belongs to another member"))
        for line, reason in sorted(bad):
            reject(line, reason)
        if bad:
            conn.execute("delete from imp_alunos where line = any(%s)", ([b[0] for b in bad],))
        inserted = [
            row[0]
            for row in conn.execute(
                "insert into alunos (aluno_ref, nome, email, telefone, data_nascimento, "
                "plano_id, data_matricula, ativo) "
                "select s.aluno_ref, s.nome, s.email, s.telefone, s.data_nascimento, p.id, "
                "s.data_matricula, s.data_cancelamento is null "
                "from imp_alunos s join planos p on p.nome = s.plano order by s.line "
                "on conflict do nothing returning id"
            )
        ]
        rep.inserted = len(inserted)
        rep.already_present = rep.read - rep.rejected - rep.inserted
        changed = [
            row[0]
            for row in conn.execute(
                "insert into alunos_status_historico "
                "(aluno_id, ativo, ocorrido_em, motivo, registrado_por) "
                "select a.id, v.ativo, v.em, v.motivo, %s "
                "from imp_alunos s join alunos a on a.aluno_ref = s.aluno_ref "
                "cross join lateral (values (true, s.data_matricula, 'importação: matrícula'), "
                "(false, s.data_cancelamento, 'importação: cancelamento')) as v(ativo, em, motivo) "
                "where v.em is not null "
                "on conflict do nothing returning aluno_id",
                (REGISTERED_BY,),
            )
        ]
        report.status_inserted = len(changed)
        members = sorted(set(changed) | set(inserted))
        # The current state follows the latest status; atualizado_em is stamped right before
        # commit (clock time, not the transaction's start) so the API's delta refresh sees it.
        cur = conn.execute(
            "with latest as ( "
            "  select distinct on (h.aluno_id) h.aluno_id, h.ativo "
            "  from alunos_status_historico h where h.aluno_id = any(%s) "
            "  order by h.aluno_id, h.ocorrido_em desc, h.ativo, h.id desc) "
            "update alunos a set ativo = l.ativo, atualizado_em = clock_timestamp() "
            "from latest l where a.id = l.aluno_id",
            (members,),
        )
        report.members_updated = cur.rowcount
    return rep


def _check_member(ref: str, nome: str, email: str, telefone: str, plano: str) -> str | None:
    if len(ref) > 64:
        return "aluno_ref longer than 64 characters"
    if not nome:
        return "missing nome"
    if len(nome) > 200:
        return "nome longer than 200 characters"
    if email and (len(email) > 320 or not _EMAIL.match(email)):
        return f"bad email: '{email}'"
    if len(telefone) > 40:
        return "telefone longer than 40 characters"
    if not plano:
        return "missing plano"
    return None


def _member_dates(
    matricula: str, cancelamento: str, tz: tzinfo
) -> tuple[str | None, datetime | None, datetime | None]:
    if not matricula:
        return "missing data_matricula", None, None
    try:
        entrou = _parse_instant(matricula, tz)
    except ValueError:
        return f"bad date in data_matricula: '{matricula}'", None, None
    saiu = None
    if cancelamento:
        try:
            saiu = _parse_instant(cancelamento, tz)
        except ValueError:
            return f"bad date in data_cancelamento: '{cancelamento}'", None, None
        if saiu < entrou:
            return "data_cancelamento before data_matricula", None, None
    return None, entrou, saiu


# --- checkins -------------------------------------------------------------------------------


class _Instants:
    """Parses check-in timestamps fast. Every text is validated by `datetime.fromisoformat`; a
    naive one gets the gym zone's offset from a cache keyed by its date and hour. Returns the
    wall-clock time in the gym zone (for comparisons) and the canonical text: that local time
    in ISO 8601 with its offset, e.g. 2026-01-05T07:30:00-03:00."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.offsets: dict[str, str] = {}

    def canonical(self, text: str) -> tuple[datetime, str]:
        value = _parse_instant(text, self.tz) if "/" in text else datetime.fromisoformat(text)
        if value.tzinfo is None:
            key = text[:13]
            offset = self.offsets.get(key)
            if offset is None:
                offset = value.replace(tzinfo=self.tz).isoformat()[-6:]
                self.offsets[key] = offset
            if (
                len(text) == 19
                and text[10] in " T"
                and text[4] == text[7] == "-"
                and text[13] == text[16] == ":"
            ):
                # Already YYYY-MM-DD?HH:MM:SS (fromisoformat accepted it): no reformatting.
                return value, f"{text[:10]}T{text[11:]}{offset}"
            return value, value.isoformat() + offset
        local = value.astimezone(self.tz)
        return local.replace(tzinfo=None), local.isoformat()


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _uuid5_hex(base, name: str) -> str:
    """uuid5 as 32 hex digits (what COPY accepts), without building a UUID object."""
    h = base.copy()
    h.update(name.encode())
    d = h.hexdigest()
    return d[:12] + "5" + d[13:16] + _VARIANT[d[16]] + d[17:32]


def _import_checkins(
    conn, source: _Source, tz: tzinfo, rejects: list[Reject], bar: _Progress
) -> tuple[FileReport, list[int]]:
    stage = _Stage(source, FileReport(source.name, unit="events"), rejects)
    rep, reject = stage.rep, stage.reject
    i_ref, i_entrada, i_saida = (source.index[c] for c in CHECKINS_COLUMNS)
    instants = _Instants(tz)
    canonical = instants.canonical
    base = hashlib.sha1(CHECKIN_NAMESPACE.bytes)
    valid_events = 0
    started = time.monotonic()
    columns = (
        "line int, aluno_ref text, entrada timestamptz, saida timestamptz, id_entrada uuid, "
        "id_saida uuid"
    )

    with conn.transaction():
        with _staged(conn, stage, "imp_checkins", columns, bar) as (rows, line_no, copy, progress):
            buffer: list[str] = []
            for row in rows:
                ref = row[i_ref].strip()
                entrada_text = row[i_entrada].strip()
                saida_text = row[i_saida].strip()
                if not ref:
                    reject(line_no(), "missing aluno_ref")
                    continue
                if not entrada_text:
                    reject(line_no(), "missing entrada")
                    continue
                try:
                    entrada, entrada_iso = canonical(entrada_text)
                except ValueError:
                    reject(line_no(), f"bad timestamp in entrada: '{entrada_text}'")
                    continue
                if "\\" in ref or "\t" in ref or "\n" in ref or "\r" in ref:
                    ref_copy = _copy_text(ref)
                else:
                    ref_copy = ref
                id_entrada = _uuid5_hex(base, f"{ref}|entrada|{entrada_iso}")
                if saida_text:
                    try:
                        saida, saida_iso = canonical(saida_text)
                    except ValueError:
                        reject(line_no(), f"bad timestamp in saida: '{saida_text}'")
                        continue
                    if saida < entrada:
                        reject(line_no(), "saida before entrada")
                        continue
                    id_saida = _uuid5_hex(base, f"{ref}|saida|{saida_iso}")
                    record = (
                        f"{line_no()}\t{ref_copy}\t{entrada_iso}\t{saida_iso}\t"
                        f"{id_entrada}\t{id_saida}\n"
                    )
                    valid_events += 2
                else:
                    record = f"{line_no()}\t{ref_copy}\t{entrada_iso}\t\\N\t{id_entrada}\t\\N\n"
                    valid_events += 1
                buffer.append(record)
                if len(buffer) >= _COPY_ROWS:
                    copy.write("".join(buffer))
                    buffer.clear()
                    progress()
            if buffer:
                copy.write("".join(buffer))
        loading = time.monotonic()
        rep.seconds_read = loading - started
        load = bar.add(f"loading {source.name} into PostgreSQL", None)
        conn.execute("analyze imp_checkins")
        unknown = conn.execute(
            "select s.line, s.aluno_ref, (s.id_saida is not null)::int + 1 from imp_checkins s "
            "where not exists (select 1 from alunos a where a.aluno_ref = s.aluno_ref) "
            "order by s.line"
        ).fetchall()
        for line, ref, events in unknown:
            reject(line, f"unknown aluno_ref '{ref}'")
            valid_events -= events
        cur = conn.execute(
            "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, origem) "
            "select e.id, a.id, e.tipo, e.em, %s "
            "from imp_checkins s join alunos a on a.aluno_ref = s.aluno_ref "
            "cross join lateral (values (s.id_entrada, 'entrada', s.entrada), "
            "(s.id_saida, 'saida', s.saida)) as e(id, tipo, em) "
            "where e.id is not null "
            "on conflict (checkin_id) do nothing",
            (ORIGEM,),
        )
        rep.inserted = cur.rowcount
        rep.already_present = valid_events - rep.inserted
        members: list[int] = []
        if rep.inserted:
            members = [
                row[0]
                for row in conn.execute(
                    "select distinct a.id from imp_checkins s "
                    "join alunos a on a.aluno_ref = s.aluno_ref"
                )
            ]
        bar.update(load, total=1, completed=1)
    rep.seconds_load = time.monotonic() - loading
    return rep, members


def _invalidate_cache(settings, members: list[int]) -> None:
    """Cached frequency and risk of members that got check-ins are stale: drop them
    (best effort; the cache expires on its own when Redis is unreachable now)."""
    if not members:
        return
    try:
        import redis

        from serving.cache import invalidate_members_sync

        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=1, socket_timeout=5
        )
        for start in range(0, len(members), 5000):
            invalidate_members_sync(client, set(members[start : start + 5000]))
    except Exception as exc:  # the import itself has succeeded
        log.warning("could not invalidate the cache of %d members: %s", len(members), exc)


__all__ = [
    "ALUNOS_COLUMNS",
    "CHECKINS_COLUMNS",
    "PLANOS_COLUMNS",
    "FileReport",
    "HistoryImportError",
    "ImportReport",
    "Reject",
    "checkin_uuid",
    "import_history",
    "write_rejects",
]
