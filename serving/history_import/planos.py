"""planos.csv: plans, keyed by name. A stored plan is never changed by an import."""

from serving import rules
from serving.history_import.files import PLANOS_COLUMNS, Source
from serving.history_import.progress import Progress
from serving.history_import.report import FileReport, Problem, Reject
from serving.history_import.staging import Stage, staged
from serving.history_import.validation import check_plan_terms

_COLUMNS = "line int, nome text, valor_mensal numeric(10, 2), duracao_meses int"


def import_planos(conn, source: Source, rejects: list[Reject], bar: Progress) -> FileReport:
    stage = Stage(source, FileReport(source.name), rejects)
    rep = stage.rep
    i_nome, i_valor, i_duracao = (source.index[c] for c in PLANOS_COLUMNS)
    first: dict[str, tuple[int, tuple[str, str]]] = {}  # nome -> (line, terms as written)

    with conn.transaction():
        with staged(conn, stage, "imp_planos", _COLUMNS, bar) as (rows, line_no, copy, _):
            for row in rows:
                line = line_no()
                nome = row[i_nome].strip()
                terms = (row[i_valor].strip(), row[i_duracao].strip())
                problems: list[Problem] = []
                if reason := rules.plan_name_problem(nome):
                    problems.append(Problem(reason))
                elif nome in first:
                    first_line, first_terms = first[nome]
                    if terms == first_terms:
                        rep.duplicates += 1  # the same row twice: skipped
                        continue
                    problems.append(
                        Problem(
                            f"plan '{nome}' appears again with other values "
                            f"(first at line {first_line})"
                        )
                    )
                else:
                    first[nome] = (line, terms)
                term_problems, valor, duracao = check_plan_terms(*terms)
                problems += term_problems
                if problems:
                    stage.flag(line, *problems)
                    continue
                copy.write_row((line, nome, valor, duracao))
        stage.finish()
        differ = conn.execute(
            "select count(*) filter (where p.valor_mensal <> s.valor_mensal), "
            "count(*) filter (where p.duracao_meses <> s.duracao_meses) "
            "from imp_planos s join planos p on p.nome = s.nome"
        ).fetchone()
        rep.kept_as_stored = {
            column: n
            for column, n in zip(("valor_mensal", "duracao_meses"), differ, strict=True)
            if n
        }
        cur = conn.execute(
            "insert into planos (nome, valor_mensal, duracao_meses) "
            "select nome, valor_mensal, duracao_meses from imp_planos order by line "
            "on conflict (nome) do nothing"
        )
        rep.inserted = cur.rowcount
        rep.already_present = rep.read - rep.rejected - rep.duplicates - rep.inserted
    return rep
