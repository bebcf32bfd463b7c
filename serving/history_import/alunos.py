"""alunos.csv: members keyed by aluno_ref, with their status history (joined, cancelled)."""

from datetime import tzinfo

from serving.history_import.files import ALUNOS_COLUMNS, Source
from serving.history_import.progress import Progress
from serving.history_import.report import FileReport, ImportReport
from serving.history_import.staging import Stage, staged
from serving.history_import.validation import birth_date, check_member, member_dates

REGISTERED_BY = "import"  # alunos_status_historico.registrado_por of imported history
_COLUMNS = (
    "line int, aluno_ref text, nome text, email text, telefone text, data_nascimento date, "
    "plano text, data_matricula timestamptz, data_cancelamento timestamptz"
)


def import_alunos(
    conn, source: Source, tz: tzinfo, report: ImportReport, bar: Progress
) -> FileReport:
    stage = Stage(source, FileReport(source.name), report.rejects)
    with conn.transaction():
        _stage_rows(conn, stage, tz, bar)
        conn.execute("analyze imp_alunos")
        _reject_by_database(conn, stage)
        inserted = _insert_members(conn, stage.rep)
        changed = _insert_status_history(conn)
        report.status_inserted = len(changed)
        report.members_updated = _follow_latest_status(conn, sorted(set(changed) | set(inserted)))
    return stage.rep


def _stage_rows(conn, stage: Stage, tz: tzinfo, bar: Progress) -> None:
    """Check each row (in the order its rejects are reported) and COPY the good ones."""
    rep, reject = stage.rep, stage.reject
    idx = [stage.source.index[c] for c in ALUNOS_COLUMNS]
    refs: dict[str, int] = {}
    emails: dict[str, int] = {}
    with staged(conn, stage, "imp_alunos", _COLUMNS, bar) as (rows, line_no, copy, progress):
        for row in rows:
            line = line_no()
            ref, nome, email, telefone, nasc, plano, matricula, cancelamento = (
                row[i].strip() for i in idx
            )
            reason = stored_email = nascimento = None
            if not ref:
                reason = "missing aluno_ref"
            elif ref in refs:
                reason = f"duplicate aluno_ref '{ref}' (first at line {refs[ref]})"
            if ref and ref not in refs:
                refs[ref] = line
            if reason is None:
                reason, stored_email = check_member(ref, nome, email, telefone, plano)
            if reason is None and stored_email:
                key = stored_email.lower()
                if key in emails:
                    reason = f"duplicate email '{email}' (first at line {emails[key]})"
                else:
                    emails[key] = line
            if reason is None:
                reason, nascimento = birth_date(nasc)
            if reason is None:
                reason, entrou, saiu = member_dates(matricula, cancelamento, tz)
            if reason is not None:
                reject(line, reason)
                continue
            values = (line, ref, nome, stored_email, telefone or None, nascimento)
            copy.write_row((*values, plano, entrou, saiu))
            if rep.read % 5000 == 0:
                progress()


def _reject_by_database(conn, stage: Stage) -> None:
    """Unknown plan, or an e-mail of another member: rejected and removed from the stage."""
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
        stage.reject(line, reason)
    if bad:
        conn.execute("delete from imp_alunos where line = any(%s)", ([b[0] for b in bad],))


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
    rep.already_present = rep.read - rep.rejected - rep.inserted
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
