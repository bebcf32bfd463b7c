"""checkins.csv: check-in events, keyed by a UUID derived from (aluno_ref, tipo, instant).

The staging loop is the import's hot path (millions of rows; benchmarked against a raw COPY in
bench/import_throughput.py): it stays one loop, with locals only and no per-row helper calls."""

import hashlib
import time
from datetime import tzinfo

from serving.history_import.files import CHECKINS_COLUMNS, Source
from serving.history_import.parsing import CHECKIN_NAMESPACE, Instants, copy_text, uuid5_hex
from serving.history_import.progress import Progress
from serving.history_import.report import FileReport, Reject
from serving.history_import.staging import COPY_ROWS, Stage, staged
from serving.vocabulary import ENTRY, EXIT, CheckinOrigin

ORIGEM: CheckinOrigin = "import"
_COLUMNS = (
    "line int, aluno_ref text, entrada timestamptz, saida timestamptz, id_entrada uuid, "
    "id_saida uuid"
)


def import_checkins(
    conn, source: Source, tz: tzinfo, rejects: list[Reject], bar: Progress
) -> tuple[FileReport, list[int]]:
    """The file's report and the ids of the members that got check-ins (when any was new)."""
    stage = Stage(source, FileReport(source.name, unit="events"), rejects)
    started = time.monotonic()
    with conn.transaction():
        valid_events = _stage_rows(conn, stage, tz, bar)
        loading = time.monotonic()
        stage.rep.seconds_read = loading - started
        members = _load(conn, stage, valid_events, bar)
    stage.rep.seconds_load = time.monotonic() - loading
    return stage.rep, members


def _stage_rows(conn, stage: Stage, tz: tzinfo, bar: Progress) -> int:
    """COPY the good rows, as COPY text built by hand; returns the events they hold.
    Over 60 lines: the hot loop, kept whole so each row costs no extra function call."""
    reject = stage.reject
    i_ref, i_entrada, i_saida = (stage.source.index[c] for c in CHECKINS_COLUMNS)
    canonical = Instants(tz).canonical
    base = hashlib.sha1(CHECKIN_NAMESPACE.bytes)
    entry_tag, exit_tag = f"|{ENTRY}|", f"|{EXIT}|"
    valid_events = 0
    with staged(conn, stage, "imp_checkins", _COLUMNS, bar) as (rows, line_no, copy, progress):
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
                ref_copy = copy_text(ref)
            else:
                ref_copy = ref
            id_entrada = uuid5_hex(base, f"{ref}{entry_tag}{entrada_iso}")
            if saida_text:
                try:
                    saida, saida_iso = canonical(saida_text)
                except ValueError:
                    reject(line_no(), f"bad timestamp in saida: '{saida_text}'")
                    continue
                if saida < entrada:
                    reject(line_no(), "saida before entrada")
                    continue
                id_saida = uuid5_hex(base, f"{ref}{exit_tag}{saida_iso}")
                record = (
                    f"{line_no()}\t{ref_copy}\t{entrada_iso}\t{saida_iso}\t"
                    f"{id_entrada}\t{id_saida}\n"
                )
                valid_events += 2
            else:
                record = f"{line_no()}\t{ref_copy}\t{entrada_iso}\t\\N\t{id_entrada}\t\\N\n"
                valid_events += 1
            buffer.append(record)
            if len(buffer) >= COPY_ROWS:
                copy.write("".join(buffer))
                buffer.clear()
                progress()
        if buffer:
            copy.write("".join(buffer))
    return valid_events


def _load(conn, stage: Stage, valid_events: int, bar: Progress) -> list[int]:
    """Reject unknown members, insert the events (a re-import inserts nothing)."""
    rep = stage.rep
    load = bar.add(f"loading {stage.source.name} into PostgreSQL", None)
    conn.execute("analyze imp_checkins")
    unknown = conn.execute(
        "select s.line, s.aluno_ref, (s.id_saida is not null)::int + 1 from imp_checkins s "
        "where not exists (select 1 from alunos a where a.aluno_ref = s.aluno_ref) "
        "order by s.line"
    ).fetchall()
    for line, ref, events in unknown:
        stage.reject(line, f"unknown aluno_ref '{ref}'")
        valid_events -= events
    cur = conn.execute(
        "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, origem) "
        "select e.id, a.id, e.tipo, e.em, %(origem)s "
        "from imp_checkins s join alunos a on a.aluno_ref = s.aluno_ref "
        "cross join lateral (values (s.id_entrada, %(entry)s, s.entrada), "
        "(s.id_saida, %(exit)s, s.saida)) as e(id, tipo, em) "
        "where e.id is not null "
        "on conflict (checkin_id) do nothing",
        {"origem": ORIGEM, "entry": ENTRY, "exit": EXIT},
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
    return members
