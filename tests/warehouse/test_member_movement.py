"""mart_member_movement_monthly, the one place of the member-movement KPIs, on a small gym built
by hand: members at the start and end of each month, joins, returns and cancellations on the
month boundaries in gym time, the IHRSA monthly churn rate and the 12-month retention, with the
synthetic students left out. The dashboard's read-only role can read it (and not the staging
views), and the daily report shows the mart's numbers."""

import re
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import create_engine

from serving.db.engine import libpq_url
from serving.reports import generate_daily_report
from tests.warehouse import test_dbt_build as warehouse
from tests.warehouse.test_dbt_build import SCHEMA, TZ, History, at, build

dbt_env = warehouse.dbt_env  # the fixture: own schema and target/log folders

AS_OF = date(2026, 3, 15)
DASHBOARD_ROLE = "gympulse_dashboard"
COLUMNS = (
    "data_fim_medicao, is_mes_completo, ativos_inicio, matriculas, reativacoes, cancelamentos, "
    "ativos_fim, taxa_churn_mensal, ativos_inicio_12m_antes, retidos_12m, retencao_12m"
)


@pytest.fixture
def gym(db, plan_id) -> dict[str, int]:
    history = History(db)
    members = {
        "fica": history.member(plan_id, at(date(2025, 1, 10), 9)),
        # cancelled just after midnight on July 1st: July's cancellation
        "sai_em_julho": history.member(
            plan_id, at(date(2025, 1, 20), 9), at(date(2025, 7, 1), 0, 30)
        ),
        # 23:30 on Feb 28 is 02:30 UTC on March 1st: a February join in gym time
        "fim_de_fevereiro": history.member(plan_id, at(date(2025, 2, 28), 23, 30)),
        # joined on March 1st, cancelled on March 1st a year later: active at its start
        "um_ano": history.member(plan_id, at(date(2025, 3, 1), 8), at(date(2026, 3, 1), 10)),
        # left in August, came back in March 2026: a return, not a join
        "volta": history.member(plan_id, at(date(2025, 6, 10), 9), at(date(2025, 8, 5), 9)),
        # joined after the as-of date: not counted yet
        "depois": history.member(plan_id, at(date(2026, 3, 20), 9)),
        # a synthetic student from before the gym's first member: no row, no count
        "sintetico": history.member(plan_id, at(date(2024, 12, 1), 9)),
    }
    history.status(members["volta"], True, at(date(2026, 3, 2), 9))
    db.execute("update alunos set ativo = true where id = %s", (members["volta"],))
    db.execute(
        "update alunos set aluno_ref = 'SINT-0123456789' where id = %s", (members["sintetico"],)
    )
    return members


def movement(db) -> dict[date, tuple]:
    rows = db.execute(
        f"select mes, {COLUMNS} from {SCHEMA}.mart_member_movement_monthly order by mes"
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def test_member_movement_counts_months_in_gym_time(db, gym, dbt_env, settings):
    output = build(dbt_env, "--as-of", AS_OF.isoformat())
    assert "member_movement_counts_the_month_boundaries" in output and "ERROR=0" in output

    months = movement(db)
    assert list(months) == [date(2025 + (n // 12), n % 12 + 1, 1) for n in range(15)]

    def month(year: int, number: int, *counts, churn, base=None, retidos=None, retention=None):
        start = date(year, number, 1)
        end = min(month_end(start), AS_OF)
        ratio = None if churn is None else Decimal(churn)
        kept = None if retention is None else Decimal(retention)
        return (end, end == month_end(start), *counts, ratio, base, retidos, kept)

    # ativos_inicio, matriculas, reativacoes, cancelamentos, ativos_fim
    assert months[date(2025, 1, 1)] == month(2025, 1, 0, 2, 0, 0, 2, churn=None)
    assert months[date(2025, 2, 1)] == month(2025, 2, 2, 1, 0, 0, 3, churn="0.0000")
    assert months[date(2025, 3, 1)] == month(2025, 3, 3, 1, 0, 0, 4, churn="0.0000")
    assert months[date(2025, 6, 1)] == month(2025, 6, 4, 1, 0, 0, 5, churn="0.0000")
    assert months[date(2025, 7, 1)] == month(2025, 7, 5, 0, 0, 1, 4, churn="0.2000")
    assert months[date(2025, 8, 1)] == month(2025, 8, 4, 0, 0, 1, 3, churn="0.2500")
    # the month 12 months before January 2026 had nobody active at its start
    assert months[date(2026, 1, 1)] == month(
        2026, 1, 3, 0, 0, 0, 3, churn="0.0000", base=0, retidos=0
    )
    # of the 2 active on 2025-02-01, one is still here (the other left in July)
    assert months[date(2026, 2, 1)] == month(
        2026, 2, 3, 0, 0, 0, 3, churn="0.0000", base=2, retidos=1, retention="0.5000"
    )
    # counted up to the as-of date; of the 3 active on 2025-03-01, 2 are (the one who joined
    # that day is not in the base, and her cancellation on 2026-03-01 is March's)
    assert months[date(2026, 3, 1)] == month(
        2026, 3, 3, 0, 1, 1, 3, churn="0.3333", base=3, retidos=2, retention="0.6667"
    )

    # the cohort matrix leaves synthetic students out too: December 2024 had only one
    cohorts = db.execute(f"select distinct mes_coorte from {SCHEMA}.cohort_retention").fetchall()
    assert (date(2024, 12, 1),) not in cohorts
    assert (date(2025, 1, 1),) in cohorts

    # the dashboard's read-only role reads the mart, and not the staging views (a view reads as
    # its owner, and stg_app__alunos has the members' e-mail and birth date)
    with psycopg.connect(libpq_url(settings.database_url), autocommit=True) as conn:
        conn.execute(f"set role {DASHBOARD_ROLE}")
        assert conn.execute(
            f"select count(*) from {SCHEMA}.mart_member_movement_monthly"
        ).fetchone() == (15,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"select email from {SCHEMA}.stg_app__alunos")

    # the daily report's month KPIs are the mart's
    engine = create_engine(settings.database_url)
    try:
        generate_daily_report(engine, AS_OF, tz=TZ, warehouse_schema=SCHEMA)
    finally:
        engine.dispose()
    html = db.execute("select html from relatorios_diarios where data = %s", (AS_OF,)).fetchone()[0]
    section = html.split("Movimento de alunos no mês")[1].split("<h2>")[0]
    body = section.split("<tbody>")[1].split("</tbody>")[0]
    table = [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in row.split("</td>")[:-1]]
        for row in body.split("</tr>")[:-1]
    ]
    assert table == [
        ["março/2026 (até 15/03)", "3", "0", "1", "1", "3", "33,3%", "66,7%"],
        ["fevereiro/2026", "3", "0", "0", "0", "3", "0,0%", "50,0%"],
    ]
    assert "3,4%" in section and "67,0%" in section  # the IHRSA benchmarks
