"""alunos.csv: members keyed by aluno_ref, with their status history (joined, cancelled).

A stored member is never changed by an import: a later export may add the cancellation the
stored history lacks, nothing else. A row whose data_matricula, or whose data_cancelamento, differs
from what is stored for its aluno_ref contradicts the member's history and is rejected; other
columns that differ (nome, e-mail, plan...) are counted in `kept_as_stored` (the desk may have
edited the member since the first import)."""

from datetime import datetime, time, tzinfo

from serving.history_import.files import ALUNOS_COLUMNS, Source
from serving.history_import.progress import Progress
from serving.history_import.report import FileReport, ImportReport, Problem, cell
from serving.history_import.staging import Stage, staged
from serving.history_import.validation import birth_date, check_member, member_dates

REGISTERED_BY = "import"  # alunos_status_historico.registrado_por of imported history
_COLUMNS = (
    "line int, aluno_ref text, nome text, email text, telefone text, data_nascimento date, "
    "plano text, data_matricula timestamptz, data_cancelamento timestamptz"
)
_KEPT_COLUMNS = ("nome", "email", "telefone", "data_nascimento", "plano")


def import_alunos(
    conn, source: Source, tz: tzinfo, report: ImportReport, bar: Progress
) -> FileReport:
    stage = Stage(source, FileReport(source.name), report.rejects)
    with conn.transaction():
        _stage_rows(conn, stage, tz, bar)
        conn.execute("analyze imp_alunos")
        _flag_by_database(conn, stage)
        stage.drop_flagged(conn, "imp_alunos")
        _flag_contradictions(conn, stage)
        stage.drop_flagged(conn, "imp_alunos")
        stage.finish()
        stage.rep.kept_as_stored = _kept_as_stored(conn)
        inserted = _insert_members(conn, stage.rep)
        changed = _insert_status_history(conn)
        report.status_inserted = len(changed)
        report.members_updated = _follow_latest_status(conn, sorted(set(changed) | set(inserted)))
    return stage.rep


def _stage_rows(conn, stage: Stage, tz: tzinfo, bar: Progress) -> None:
    """Check each row and COPY it, flagged or not: the database checks list the problems of
    flagged rows too. A row repeated as it is is skipped (counted in `duplicates`)."""
    rep = stage.rep
    idx = [stage.source.index[c] for c in ALUNOS_COLUMNS]
    first: dict[str, tuple[int, int]] = {}  # aluno_ref -> (line, hash of the row's cells)
    emails: dict[str, tuple[int, str]] = {}  # e-mail, lowercased -> (line, aluno_ref)
    with staged(conn, stage, "imp_alunos", _COLUMNS, bar) as (rows, line_no, copy, progress):
        for row in rows:
            line = line_no()
            cells = tuple(row[i].strip() for i in idx)
            ref, nome, email, telefone, nasc, plano, matricula, cancelamento = cells
            problems, stored_email = check_member(ref, nome, email, telefone)
            if ref:
                digest = hash(cells)
                seen = first.setdefault(ref, (line, digest))
                if seen[0] != line and seen[1] == digest:
                    rep.duplicates += 1
                    continue
                if seen[0] != line:
                    problems.append(
                        Problem(
                            f"aluno_ref '{ref}' appears again with other values "
                            f"(first at line {seen[0]})"
                        )
                    )
            if stored_email:
                first_line, first_ref = emails.setdefault(stored_email.lower(), (line, ref))
                if first_ref != ref:
                    problems.append(
                        Problem(f"email appears again (first at line {first_line})", cell(email))
                    )
            problem, nascimento = birth_date(nasc)
            if problem:
                problems.append(problem)
            if not plano:
                problems.append(Problem("missing plano"))
            date_problems, entrou, saiu = member_dates(matricula, cancelamento, tz)
            problems += date_problems
            if problems:
                stage.flag(line, *problems)
            values = (line, ref or None, nome, stored_email, telefone or None, nascimento)
            copy.write_row((*values, plano or None, entrou, saiu))
            if rep.read % 5000 == 0:
                progress()


def _flag_by_database(conn, stage: Stage) -> None:
    """Unknown plan, or an e-mail of another member."""
    stage.flag_rows(
        (line, Problem(f"unknown plan '{plano}'"))
        for line, plano in conn.execute(
            "select line, plano from imp_alunos s where s.plano is not null "
            "and not exists (select 1 from planos p where p.nome = s.plano)"
        )
    )
    stage.flag_rows(
        (line, Problem("email already belongs to another member", cell(email)))
        for line, email in conn.execute(
            "select s.line, s.email from imp_alunos s "
            "join alunos a on lower(a.email) = lower(s.email) "
            "where s.email is not null and a.aluno_ref is distinct from s.aluno_ref"
        )
    )


def _flag_contradictions(conn, stage: Stage) -> None:
    """Rows of stored members whose join date, or whose cancellation, differs from the stored
    one (a cancellation the stored history lacks is not a contradiction: a later export)."""
    for line, ref, stored_in, file_in, stored_out, file_out in conn.execute(
        "select s.line, s.aluno_ref, a.data_matricula, s.data_matricula, c.em, "
        "s.data_cancelamento "
        "from imp_alunos s join alunos a on a.aluno_ref = s.aluno_ref "
        "left join lateral (select max(h.ocorrido_em) as em from alunos_status_historico h "
        "  where h.aluno_id = a.id and not h.ativo and h.registrado_por = %s) c on true "
        "where a.data_matricula <> s.data_matricula "
        "or (c.em is not null and c.em is distinct from s.data_cancelamento) "
        "order by s.line",
        (REGISTERED_BY,),
    ):
        for column, stored, in_file in (
            ("data_matricula", stored_in, file_in),
            ("data_cancelamento", stored_out, file_out),
        ):
            if stored is not None and stored != in_file:
                stage.flag(
                    line,
                    Problem(
                        f"{column} contradicts the stored member {ref}",
                        f"file {_when(in_file)}, stored {_when(stored)}",
                    ),
                )


def _when(value: datetime | None) -> str:
    if value is None:
        return "(empty)"
    return f"{value:%Y-%m-%d}" if value.time() == time(0) else f"{value:%Y-%m-%d %H:%M}"


def _kept_as_stored(conn) -> dict[str, int]:
    """Per column, the stored members whose row in the file has another value there."""
    counts = conn.execute(
        "select count(*) filter (where a.nome is distinct from s.nome), "
        "count(*) filter (where lower(a.email) is distinct from lower(s.email)), "
        "count(*) filter (where a.telefone is distinct from s.telefone), "
        "count(*) filter (where a.data_nascimento is distinct from s.data_nascimento), "
        "count(*) filter (where p.nome is distinct from s.plano) "
        "from imp_alunos s join alunos a on a.aluno_ref = s.aluno_ref "
        "join planos p on p.id = a.plano_id"
    ).fetchone()
    return {column: n for column, n in zip(_KEPT_COLUMNS, counts, strict=True) if n}


def _insert_members(conn, rep: FileReport) -> list[int]:
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
    rep.already_present = rep.read - rep.rejected - rep.duplicates - rep.inserted
    return inserted


def _insert_status_history(conn) -> list[int]:
    """Joined (and cancelled) entries; the ids of the members that got one."""
    return [
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


def _follow_latest_status(conn, members: list[int]) -> int:
    """The current state follows the latest status; atualizado_em is stamped right before
    commit (clock time, not the transaction's start) so the API's delta refresh sees it."""
    cur = conn.execute(
        "with latest as ( "
        "  select distinct on (h.aluno_id) h.aluno_id, h.ativo "
        "  from alunos_status_historico h where h.aluno_id = any(%s) "
        "  order by h.aluno_id, h.ocorrido_em desc, h.ativo, h.id desc) "
        "update alunos a set ativo = l.ativo, atualizado_em = clock_timestamp() "
        "from latest l where a.id = l.aluno_id",
        (members,),
    )
    return cur.rowcount
