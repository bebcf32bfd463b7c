"""planos.csv: plans, keyed by name."""

from serving import rules
from serving.history_import.files import PLANOS_COLUMNS, Source
from serving.history_import.progress import Progress
from serving.history_import.report import FileReport, Reject
from serving.history_import.staging import Stage, staged
from serving.history_import.validation import check_plan_terms

_COLUMNS = "line int, nome text, valor_mensal numeric(10, 2), duracao_meses int"


def import_planos(conn, source: Source, rejects: list[Reject], bar: Progress) -> FileReport:
    stage = Stage(source, FileReport(source.name), rejects)
    rep, reject = stage.rep, stage.reject
    i_nome, i_valor, i_duracao = (source.index[c] for c in PLANOS_COLUMNS)
    seen: dict[str, int] = {}

    with conn.transaction():
        with staged(conn, stage, "imp_planos", _COLUMNS, bar) as (rows, line_no, copy, _):
            for row in rows:
                line = line_no()
                nome = row[i_nome].strip()
                if reason := rules.plan_name_problem(nome):
                    reject(line, reason)
                    continue
                if nome in seen:
                    reject(line, f"duplicate plan '{nome}' (first at line {seen[nome]})")
                    continue
                seen[nome] = line
                reason, valor, duracao = check_plan_terms(
                    row[i_valor].strip(), row[i_duracao].strip(), row[i_valor], row[i_duracao]
                )
                if reason:
                    reject(line, reason)
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
