"""checkins.csv: check-in events, keyed by a UUID derived from (aluno_ref, tipo, instant).

A member's imported history never gets a second, conflicting copy: when this file has a new
event (one not stored yet) of a member inside the span of the member's check-ins stored by
earlier imports, the file's history of that member contradicts the stored one, and every row
of that member that is not already stored is rejected ("contradicts the stored history of member
REF"). Rows identical to stored ones are already present; new events of a member without a
contradiction load (a later export extends the history, before or after the stored span).

The staging loop is the import's hot path (millions of rows; benchmarked against a raw COPY in
bench/import_throughput.py): it stays one loop, with locals only and no per-row helper calls
(a row with a problem calls `checkin_problems` to list all of them)."""

import hashlib
import time
from datetime import tzinfo

from serving.history_import.files import CHECKINS_COLUMNS, Source
from serving.history_import.parsing import CHECKIN_NAMESPACE, Instants, copy_text, uuid5_hex
from serving.history_import.progress import Progress
from serving.history_import.report import FileReport, Problem, Reject
from serving.history_import.staging import COPY_ROWS, Stage, staged
from serving.history_import.validation import checkin_problems
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
    """COPY the good rows, as COPY text built by hand; returns the events they hold. A row
    with a problem is flagged, and staged with its aluno_ref only (for the unknown-member check).
    Over 60 lines: the hot loop, kept whole so each row costs no extra function call."""
    flag = stage.flag
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
            bad = not ref or not entrada_text
            if not bad:
                try:
                    entrada, entrada_iso = canonical(entrada_text)
                    if saida_text:
                        saida, saida_iso = canonical(saida_text)
                        bad = saida < entrada
                except ValueError:
                    bad = True
            if "\\" in ref or "\t" in ref or "\n" in ref or "\r" in ref:
                ref_copy = copy_text(ref)
            else:
                ref_copy = ref
            if bad:
                line = line_no()
                flag(line, *checkin_problems(ref, entrada_text, saida_text, canonical))
                if ref:
                    buffer.append(f"{line}\t{ref_copy}\t\\N\t\\N\t\\N\t\\N\n")
                continue
            id_entrada = uuid5_hex(base, f"{ref}{entry_tag}{entrada_iso}")
            if saida_text:
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


# The span of the check-ins stored by earlier imports, per member of this file that has some.
_SPANS = """
    create temp table imp_spans on commit drop as
    select a.aluno_ref, x.first_at, x.last_at
    from (select distinct aluno_ref from imp_checkins) r
    join alunos a on a.aluno_ref = r.aluno_ref
    cross join lateral (
        select min(c.ocorrido_em) as first_at, max(c.ocorrido_em) as last_at from checkins c
        where c.aluno_id = a.id and c.origem = %s) x
    where x.first_at is not null
"""
# The members with an event in this file, not stored yet, inside their stored span.
_CONTRADICTED = """
    select distinct sp.aluno_ref, to_char(sp.first_at, 'YYYY-MM-DD'),
        to_char(sp.last_at, 'YYYY-MM-DD')
    from imp_checkins s join imp_spans sp on sp.aluno_ref = s.aluno_ref
    cross join lateral (values (s.id_entrada, s.entrada), (s.id_saida, s.saida)) e(id, em)
    where e.id is not null and e.em between sp.first_at and sp.last_at
      and not exists (select 1 from checkins c where c.checkin_id = e.id)
"""
# Their rows with an event not stored yet: rejected.
_CONTRADICTING_ROWS = """
    select s.line, s.aluno_ref, (s.id_saida is not null)::int + 1 from imp_checkins s
    where s.aluno_ref = any(%s) and s.id_entrada is not null
      and (not exists (select 1 from checkins c where c.checkin_id = s.id_entrada)
           or (s.id_saida is not null
               and not exists (select 1 from checkins c where c.checkin_id = s.id_saida)))
    order by s.line
"""


def _flag_contradictions(conn, stage: Stage) -> int:
    """Flag the rows of members whose history in this file contradicts the stored one (see the
    module docstring); returns the events of those rows. A few set-based statements, most of
    them skipped when no member of the file has imported check-ins yet (a first import)."""
    if not conn.execute(_SPANS, (ORIGEM,)).rowcount:
        return 0
    contradicted = {ref: span for ref, *span in conn.execute(_CONTRADICTED)}
    if not contradicted:
        return 0
    events = 0
    for line, ref, row_events in conn.execute(_CONTRADICTING_ROWS, (list(contradicted),)):
        first_day, last_day = contradicted[ref]
        stage.flag(
            line,
            Problem(
                f"contradicts the stored history of member {ref} (none of its new rows loaded)",
                f"this file has other check-ins than the ones imported before between "
                f"{first_day} and {last_day}",
            ),
        )
        events += row_events
    return events


def _load(conn, stage: Stage, valid_events: int, bar: Progress) -> list[int]:
    """Reject unknown members and contradicted histories, insert the events (a re-import
    inserts nothing), tell the file's own duplicates from the events stored before."""
    rep = stage.rep
    load = bar.add(f"loading {stage.source.name} into PostgreSQL", None)
    conn.execute("analyze imp_checkins")
    for line, ref, events in conn.execute(
        "select s.line, s.aluno_ref, "
        "(s.id_entrada is not null)::int + (s.id_saida is not null)::int from imp_checkins s "
        "where not exists (select 1 from alunos a where a.aluno_ref = s.aluno_ref) "
        "order by s.line"
    ).fetchall():
        stage.flag(line, Problem(f"unknown aluno_ref '{ref}'"))
        valid_events -= events
    valid_events -= _flag_contradictions(conn, stage)
    stage.drop_flagged(conn, "imp_checkins")
    stage.finish()
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
    distinct_events = rep.inserted
    if rep.inserted < valid_events:  # some were stored before, or repeated in the file
        row = conn.execute(
            "select count(distinct e.id) from imp_checkins s "
            "cross join lateral (values (s.id_entrada), (s.id_saida)) as e(id) "
            "where e.id is not null"
        ).fetchone()
        distinct_events = row[0] if row else 0
    rep.duplicates = valid_events - distinct_events
    rep.already_present = distinct_events - rep.inserted
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
