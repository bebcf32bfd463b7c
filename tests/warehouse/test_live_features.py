"""churn_features_atuais, the live feature view the API scores on demand: after a build it equals
churn_features' scoring row member by member (same macro, same data); a member written to the
app tables after the build (a synthetic student included) has its row at once, with no rebuild;
and `where aluno_id = ...` is pushed down to the app tables, so one member reads only its rows."""

import json
from datetime import datetime, timedelta

from serving.simulator import StudentProfile, create_synthetic_student
from tests.warehouse import test_dbt_build as warehouse
from tests.warehouse.test_dbt_build import SCHEMA, TZ, History, at, build

dbt_env = warehouse.dbt_env  # the fixture: own schema and target/log folders


def rows_by_member(db, sql: str, params: tuple = ()) -> dict[int, dict]:
    cursor = db.execute(sql, params)
    names = [column.name for column in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def live(db, aluno_id: int | None = None) -> dict[int, dict]:
    if aluno_id is None:
        return rows_by_member(db, f"select * from {SCHEMA}.churn_features_atuais")
    return rows_by_member(
        db, f"select * from {SCHEMA}.churn_features_atuais where aluno_id = %s", (aluno_id,)
    )


def scoring_rows(db) -> dict[int, dict]:
    return rows_by_member(
        db, f"select * from {SCHEMA}.churn_features where tipo_linha = 'pontuacao'"
    )


def plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def test_live_view_equals_scoring_row_and_sees_new_members(db, plan_id, dbt_env, settings):
    today = datetime.now(TZ).date()
    history = History(db)

    # regular, with visits across the 90-day edge, a double tap and a missed exit
    assiduo = history.member(plan_id, at(today - timedelta(days=120), 9))
    for offset in range(100, 0, -3):
        history.visit(assiduo, at(today - timedelta(days=offset), 7), minutes=40 + offset % 7)
    history.tap(assiduo, "entrada", at(today - timedelta(days=10), 7, 1))
    history.visit(assiduo, at(today - timedelta(days=8), 20), minutes=None)
    # gone quiet: the last visit is 120 days ago, before the features' 90-day window; its
    # double tap falls on the next day and must not count as a visit
    sumido = history.member(plan_id, at(today - timedelta(days=200), 9))
    for offset in range(150, 120, -5):
        history.visit(sumido, at(today - timedelta(days=offset), 18), minutes=55)
    history.tap(sumido, "entrada", at(today - timedelta(days=120), 23, 59))
    history.tap(sumido, "entrada", at(today - timedelta(days=119), 0, 0))
    # never came; cancelled (no row); cancelled and back (a second active period)
    nunca = history.member(plan_id, at(today - timedelta(days=30), 9))
    cancelado = history.member(
        plan_id, at(today - timedelta(days=100), 9), at(today - timedelta(days=10), 12)
    )
    history.visit(cancelado, at(today - timedelta(days=20), 18))
    voltou = history.member(
        plan_id, at(today - timedelta(days=200), 9), at(today - timedelta(days=100), 12)
    )
    history.status(voltou, True, at(today - timedelta(days=20), 10))
    db.execute("update alunos set ativo = true where id = %s", (voltou,))
    for offset in (150, 15, 3):
        history.visit(voltou, at(today - timedelta(days=offset), 12), minutes=30)
    # came only 8 and 12 days ago: nothing in the last 7 days, two visits in the last 14
    pausa = history.member(plan_id, at(today - timedelta(days=60), 9))
    history.visit(pausa, at(today - timedelta(days=12), 19), minutes=50)
    history.visit(pausa, at(today - timedelta(days=8), 19), minutes=None)

    output = build(dbt_env)
    assert "assert_churn_features_atuais_match_scoring_row" in output
    assert "ERROR=0" in output

    # fresh table: the live view is the scoring row, column by column
    table = scoring_rows(db)
    assert set(table) == {assiduo, sumido, nunca, voltou, pausa}
    assert live(db) == table
    assert {
        column: table[pausa][column]
        for column in ("visitas_7_dias", "visitas_14_dias", "visitas_28_dias", "visitas_56_dias")
    } == {"visitas_7_dias": 0, "visitas_14_dias": 2, "visitas_28_dias": 2, "visitas_56_dias": 2}
    assert float(table[pausa]["duracao_media_28_dias"]) == 50.0
    assert float(table[pausa]["razao_tendencia_7_28"]) == 0.0
    assert table[nunca]["duracao_media_28_dias"] is None
    assert table[nunca]["razao_tendencia_7_28"] is None
    assert live(db, sumido)[sumido]["dias_desde_ultima_visita"] == 120
    assert live(db, sumido)[sumido]["visitas_28_dias"] == 0
    assert live(db, nunca)[nunca]["dias_desde_ultima_visita"] is None
    assert live(db, voltou)[voltou]["visitas_28_dias"] == 2
    assert all(
        row["churn_30d"] is None and row["data_referencia"] == today for row in table.values()
    )

    # no rebuild from here on: a brand-new member with check-ins, and a visit today
    novo = history.member(plan_id, at(today - timedelta(days=10), 9))
    history.visit(novo, at(today - timedelta(days=9), 7), minutes=60)
    history.visit(novo, at(today - timedelta(days=5), 18), minutes=45)
    history.tap(novo, "entrada", at(today - timedelta(days=5), 18, 1))  # double tap
    history.visit(novo, at(today - timedelta(days=2), 12), minutes=None)  # exit missed
    history.visit(assiduo, at(today, 0, 5), minutes=30)

    row = live(db, novo)[novo]
    assert row["data_referencia"] == today
    assert row["is_scoring_row"] is True
    assert (row["visitas_7_dias"], row["visitas_14_dias"], row["visitas_28_dias"]) == (2, 3, 3)
    assert row["dias_desde_ultima_visita"] == 2
    assert row["dias_de_casa"] == 10
    assert float(row["duracao_media_minutos"]) == float(row["duracao_media_28_dias"]) == 52.5
    assert float(row["razao_tendencia_7_28"]) == 2.667  # 2 in 7 days against 3 in 28
    assert float(row["regularidade_4_semanas"]) == 0.5
    assert float(row["regularidade_8_semanas"]) == 0.25
    assert row["churn_30d"] is None

    now_assiduo = live(db, assiduo)[assiduo]
    assert now_assiduo["dias_desde_ultima_visita"] == 0
    assert now_assiduo["visitas_28_dias"] == table[assiduo]["visitas_28_dias"] + 1
    assert novo not in scoring_rows(db)  # the table waits for the next build
    unchanged = live(db)
    assert {k: unchanged[k] for k in (sumido, nunca, voltou, pausa)} == {
        k: table[k] for k in (sumido, nunca, voltou, pausa)
    }

    # the seed's synthetic student, written in one transaction by the API's writer
    student = create_synthetic_student(
        StudentProfile(
            plano="Mensal", visitas_semana=3, duracao=60, dias_desde_ultima=4, semanas=8
        ),
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        seed=7,
    )
    row = live(db, student.aluno_id)[student.aluno_id]
    assert row["dias_desde_ultima_visita"] == 4
    assert row["dias_de_casa"] == 56
    assert row["plano"] == "Mensal"

    # one member: the filter reaches every app table, each scan reads only that member's rows
    plan = db.execute(
        f"explain (analyze, format json) select * from {SCHEMA}.churn_features_atuais "
        "where aluno_id = %s",
        (assiduo,),
    ).fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)
    own_rows = {
        table_name: db.execute(
            f"select count(*) from {table_name} where {column} = %s", (assiduo,)
        ).fetchone()[0]
        for table_name, column in (
            ("checkins", "aluno_id"),
            ("alunos_status_historico", "aluno_id"),
            ("alunos", "id"),
        )
    }
    scanned = [
        node for node in plan_nodes(plan[0]["Plan"]) if node.get("Relation Name") in own_rows
    ]
    assert {node["Relation Name"] for node in scanned} == set(own_rows)
    for node in scanned:
        read = node["Actual Rows"] * node["Actual Loops"]
        assert read <= own_rows[node["Relation Name"]], node
    assert db.execute("select count(*) from checkins").fetchone()[0] > own_rows["checkins"]
    assert plan[0]["Execution Time"] < 200
