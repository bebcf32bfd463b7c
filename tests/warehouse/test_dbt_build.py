"""The dbt warehouse against the test database: `gympulse dbt build` passes every test (unit
tests and the leakage gate included), visits match the API's pairing, churn features exist only
for active members with the right label, and later builds pick up new check-ins incrementally:
late ones, and ones whose transaction was still open during a build. A night's data tests check
the rows it rebuilt; with test_every_row they check every row."""

import os
import subprocess
import sys
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import create_engine

from serving.db.engine import libpq_url
from serving.reports import generate_daily_report
from serving.visits import pair_visits_sql
from serving.warehouse import DBT_PROJECT_DIR
from serving.warehouse import dbt_env as profile_env

TZ = ZoneInfo("America/Sao_Paulo")
SCHEMA = os.environ.get("DBT_TEST_SCHEMA", "analytics_test")
VISIT_COLUMNS = "evento, visita_id, aluno_id, entrada, saida, duracao_minutos"


@pytest.fixture
def dbt_env(db, tmp_path) -> dict[str, str]:
    """Own target schema (dropped first) and own target/log folders, apart from dev runs."""
    db.execute(f"drop schema if exists {SCHEMA} cascade")
    return {
        **os.environ,
        "DBT_SCHEMA": SCHEMA,
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }


def build(env: dict[str, str], *extra: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "dbt", "build", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return proc.stdout


def dbt_test_every_row(env: dict[str, str], database_url: str, select: str):
    """`dbt test` with test_every_row: the data tests check every row, not the last run's."""
    project = str(DBT_PROJECT_DIR)
    return subprocess.run(
        [
            *(sys.executable, "-m", "dbt.cli.main", "test"),
            *("--project-dir", project, "--profiles-dir", project, "--select", select),
            *("--vars", '{"test_every_row": true}'),
        ],
        env={**env, **profile_env(database_url)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ)


class History:
    def __init__(self, db) -> None:
        self.db = db

    def member(self, plano_id: int, joined: datetime, cancelled: datetime | None = None) -> int:
        aluno_id = self.db.execute(
            "insert into alunos (nome, email, plano_id, ativo, data_matricula) "
            "values (%s, %s, %s, %s, %s) returning id",
            (f"Aluno {uuid.uuid4().hex[:6]}", None, plano_id, cancelled is None, joined),
        ).fetchone()[0]
        self.status(aluno_id, True, joined)
        if cancelled is not None:
            self.status(aluno_id, False, cancelled)
        return aluno_id

    def status(self, aluno_id: int, ativo: bool, when: datetime) -> None:
        self.db.execute(
            "insert into alunos_status_historico (aluno_id, ativo, ocorrido_em) values (%s, %s, %s)",
            (aluno_id, ativo, when),
        )

    def tap(self, aluno_id: int, tipo: str, when: datetime, late: bool = False) -> uuid.UUID:
        """An event written a few seconds after it happened, or now when `late`."""
        checkin_id = uuid.uuid4()
        written = datetime.now(TZ) if late else min(when + timedelta(seconds=3), datetime.now(TZ))
        self.db.execute(
            "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, origem, gravado_em) "
            "values (%s, %s, %s, %s, 'api', %s)",
            (checkin_id, aluno_id, tipo, when, written),
        )
        return checkin_id

    def visit(self, aluno_id: int, entrada: datetime, minutes: int | None = 75) -> uuid.UUID:
        checkin_id = self.tap(aluno_id, "entrada", entrada)
        if minutes is not None:
            self.tap(aluno_id, "saida", entrada + timedelta(minutes=minutes))
        return checkin_id


def api_visits(db) -> set[tuple]:
    return set(db.execute(f"select {VISIT_COLUMNS} from ({pair_visits_sql('checkins')}) as p"))


def dbt_visits(db) -> set[tuple]:
    return set(db.execute(f"select {VISIT_COLUMNS} from {SCHEMA}.int_visits"))


# Several full dbt builds with their tests: 240 s on a quiet 2-core machine, more under load.
@pytest.mark.timeout(900)
def test_dbt_build_features_labels_and_incremental(db, plan_id, dbt_env, settings):
    today = datetime.now(TZ).date()
    now = datetime.now(TZ)
    history = History(db)
    anual = db.execute(
        "insert into planos (nome, valor_mensal, duracao_meses) values ('Anual', 99.9, 12) "
        "returning id"
    ).fetchone()[0]

    joined = {"assiduo": today - timedelta(days=120), "cancelado": today - timedelta(days=150)}
    joined["novo"] = today - timedelta(days=40)
    cancel_day = today - timedelta(days=20)
    assiduo = history.member(plan_id, at(joined["assiduo"], 9))
    cancelado = history.member(plan_id, at(joined["cancelado"], 9), at(cancel_day, 12))
    novo = history.member(anual, at(joined["novo"], 9))

    first_visit = today - timedelta(days=90)
    old_visit = None
    for offset in range(90, 0, -2):
        visit_id = history.visit(assiduo, at(today - timedelta(days=offset), 7))
        old_visit = old_visit or visit_id
    # the pairing's edge cases: a double tap, a missed exit, an exit without entry
    history.tap(assiduo, "entrada", at(today - timedelta(days=10), 7, 1))
    history.visit(assiduo, at(today - timedelta(days=9), 19), minutes=None)
    orphan_exit = history.tap(assiduo, "saida", at(today - timedelta(days=7), 12))
    # the last event before the first build: an entry still open
    open_entry = now - timedelta(hours=3)
    history.visit(assiduo, open_entry, minutes=None)

    for offset in range(89, 24, -3):
        history.visit(cancelado, at(today - timedelta(days=offset), 18), minutes=50)
    for offset in range(38, 0, -7):
        history.visit(novo, at(today - timedelta(days=offset), 12), minutes=40)

    output = build(dbt_env)
    assert "int_visits_pairs_entries_with_exits" in output
    assert "churn_features_windows_use_only_the_past" in output
    assert "churn_features_windows_over_several_horizons" in output
    assert "assert_churn_features_use_no_future_events" in output
    assert "ERROR=0" in output

    # the same visits as the API's pairing (the macro rendered by serving.visits)
    assert dbt_visits(db) == api_visits(db)
    assiduo_rows = db.execute(
        f"select count(*) filter (where evento = 'visita'), "
        f"count(*) filter (where evento = 'saida_sem_entrada'), "
        f"count(*) filter (where evento = 'visita' and saida is null) "
        f"from {SCHEMA}.int_visits where aluno_id = %s",
        (assiduo,),
    ).fetchone()
    assert assiduo_rows == (45 + 2, 1, 2)

    # one row per active member per Sunday from the first visit's month, plus today
    first_month = first_visit.replace(day=1)
    sundays = [
        first_month + timedelta(days=n)
        for n in range((today - first_month).days)
        if (first_month + timedelta(days=n)).isoweekday() == 7
    ]
    dates = sorted({*sundays, today})
    spans = {
        assiduo: (joined["assiduo"], None),
        cancelado: (joined["cancelado"], cancel_day),
        novo: (joined["novo"], None),
    }
    features = db.execute(
        f"select aluno_id, data_referencia, tipo_linha, churn_30d, dias_desde_ultima_visita "
        f"from {SCHEMA}.churn_features order by aluno_id, data_referencia"
    ).fetchall()
    for aluno_id, (start, end) in spans.items():
        expected = [d for d in dates if start <= d and (end is None or d < end)]
        got = [row[1] for row in features if row[0] == aluno_id]
        assert got == expected, aluno_id
    scoring = [row for row in features if row[2] == "pontuacao"]
    assert {row[0] for row in scoring} == {assiduo, novo}
    assert all(row[1] == today and row[3] is None for row in scoring)

    # label: 1 in the 30 days before the cancellation, 0 before that, null when not observed
    for aluno_id, data_referencia, _tipo, label, _dias in features:
        if data_referencia + timedelta(days=30) > today:
            assert label is None, (aluno_id, data_referencia)
        elif aluno_id == cancelado and cancel_day <= data_referencia + timedelta(days=30):
            assert label == 1, data_referencia
        else:
            assert label == 0, (aluno_id, data_referencia)
    assert any(row[0] == cancelado and row[3] == 1 for row in features)

    # incremental: the open entry gets its exit, a new visit lands, old rows stay untouched
    old_xmin = db.execute(
        f"select xmin::text from {SCHEMA}.int_visits where visita_id = %s", (old_visit,)
    ).fetchone()[0]
    snapshot_xmin = dict(
        db.execute(
            f"select data_referencia, xmin::text from {SCHEMA}.churn_features "
            f"where aluno_id = %s and tipo_linha = 'treino'",
            (assiduo,),
        ).fetchall()
    )
    history.tap(assiduo, "saida", open_entry + timedelta(minutes=80))
    history.tap(assiduo, "saida", open_entry + timedelta(minutes=81))  # double tap
    new_visit = history.visit(novo, now - timedelta(minutes=50), minutes=40)
    # a late event: the orphan exit's entry arrives a week later
    history.tap(assiduo, "entrada", at(today - timedelta(days=7), 10, 30), late=True)

    output = build(dbt_env)
    assert "ERROR=0" in output
    assert dbt_visits(db) == api_visits(db)
    reopened = db.execute(
        f"select duracao_minutos from {SCHEMA}.int_visits where entrada = %s and aluno_id = %s",
        (open_entry, assiduo),
    ).fetchone()[0]
    assert float(reopened) == 80.0
    assert (
        db.execute(
            f"select count(*) from {SCHEMA}.int_visits where visita_id = %s", (orphan_exit,)
        ).fetchone()[0]
        == 0
    ), "the exit paired by the late entry is still an orphan"
    assert (
        db.execute(
            f"select count(*) from {SCHEMA}.int_visits where visita_id = %s", (new_visit,)
        ).fetchone()[0]
        == 1
    )
    assert (
        db.execute(
            f"select xmin::text from {SCHEMA}.int_visits where visita_id = %s", (old_visit,)
        ).fetchone()[0]
        == old_xmin
    ), "int_visits was rebuilt instead of updated incrementally"
    # a night rebuilds the snapshots whose label it observed within the last week and those of
    # the last week; the ones in between (label still null) and older ones are left alone
    rebuilt = {
        day
        for day, xmin in db.execute(
            f"select data_referencia, xmin::text from {SCHEMA}.churn_features "
            f"where aluno_id = %s and tipo_linha = 'treino'",
            (assiduo,),
        ).fetchall()
        if snapshot_xmin.get(day) != xmin
    }
    assert rebuilt == {
        day
        for day in snapshot_xmin
        if today - timedelta(days=37) <= day <= today - timedelta(days=30)
        or day >= today - timedelta(days=7)
    }
    assert 2 <= len(rebuilt) < len(snapshot_xmin) - 2  # some snapshots were left alone

    daily = db.execute(
        f"select d.count_visitas, v.n from {SCHEMA}.fct_attendance_daily as d "
        f"join (select data_local, count(*) filter (where evento = 'visita') as n "
        f"from {SCHEMA}.int_visits group by data_local) as v using (data_local) "
        f"where d.count_visitas <> v.n"
    ).fetchall()
    assert daily == []
    # the daily report (live, from the app tables) has the mart's totals: one definition
    report_engine = create_engine(settings.database_url)
    try:
        for day in (today - timedelta(days=n) for n in range(12)):
            mart = db.execute(
                f"select count_visitas, count_alunos_distintos, duracao_media_minutos, "
                f"count_visitas_sem_saida, count_saidas_sem_entrada "
                f"from {SCHEMA}.fct_attendance_daily where data_local = %s",
                (day,),
            ).fetchone()
            resumo = generate_daily_report(report_engine, day, tz=TZ, warehouse_schema=SCHEMA)
            totais = resumo["totais"]
            report = tuple(
                totais[name]
                for name in (
                    "visitas",
                    "alunos_presentes",
                    "duracao_media_minutos",
                    "visitas_sem_saida",
                    "saidas_sem_entrada",
                )
            )
            expected = (0, 0, None, 0, 0) if mart is None else mart
            assert report == tuple(float(v) if isinstance(v, Decimal) else v for v in expected), day
    finally:
        report_engine.dispose()

    # a visit weeks ago written by a transaction still open during a build (a long import): its
    # gravado_em (the transaction's start) is before that build, yet the build cannot see it;
    # the next build must pair it, and still leave old rows alone
    with psycopg.connect(libpq_url(settings.database_url)) as pending:
        pending_entry = uuid.uuid4()
        for checkin_id, tipo, minutes in (
            (pending_entry, "entrada", 0),
            (uuid.uuid4(), "saida", 45),
        ):
            pending.execute(
                "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, origem) "
                "values (%s, %s, %s, %s, 'importacao')",
                (checkin_id, novo, tipo, at(today - timedelta(days=30), 19, minutes)),
            )
        assert "ERROR=0" in build(dbt_env)
        assert dbt_visits(db) == api_visits(db)
        pending.commit()
    assert "ERROR=0" in build(dbt_env)
    assert dbt_visits(db) == api_visits(db)
    assert db.execute(
        f"select duracao_minutos from {SCHEMA}.int_visits where visita_id = %s", (pending_entry,)
    ).fetchone() == (45,)
    assert (
        db.execute(
            f"select xmin::text from {SCHEMA}.int_visits where visita_id = %s", (old_visit,)
        ).fetchone()[0]
        == old_xmin
    ), "the open transaction's visit made a build re-pair from the start"
    # a night with nothing new re-pairs only the last hours
    build(dbt_env)
    rewritten = db.execute(
        f"select min(coalesce(entrada, saida)) from {SCHEMA}.int_visits "
        f"where processado_em = (select max(processado_em) from {SCHEMA}.int_visits)"
    ).fetchone()[0]
    assert rewritten is None or rewritten >= now - timedelta(hours=7)

    # a past as-of date: the scoring row is that date and nothing after it is used
    features_today = (
        f"select count(*), count(churn_30d), max(data_referencia) from {SCHEMA}.churn_features"
    )
    before_backtest = db.execute(features_today).fetchone()
    as_of = today - timedelta(days=30)
    build(dbt_env, "--as-of", as_of.isoformat())
    rows = db.execute(
        f"select data_referencia, dias_desde_ultima_visita, churn_30d from {SCHEMA}.churn_features "
        f"where aluno_id = %s and tipo_linha = 'pontuacao'",
        (cancelado,),
    ).fetchall()
    last_visit = db.execute(
        "select max((ocorrido_em at time zone %s)::date) from checkins "
        "where aluno_id = %s and tipo = 'entrada' and (ocorrido_em at time zone %s)::date <= %s",
        (str(TZ), cancelado, str(TZ), as_of),
    ).fetchone()[0]
    assert rows == [(as_of, (as_of - last_visit).days, None)]
    assert (
        db.execute(f"select max(data_referencia) from {SCHEMA}.churn_features").fetchone()[0]
        == as_of
    )

    # a night's data tests check the rows it rebuilt; test_every_row checks every row
    db.execute(
        f"update {SCHEMA}.int_visits set saida = entrada + interval '7 hours' where visita_id = %s",
        (old_visit,),
    )
    assert "ERROR=0" in build(dbt_env)
    # the night after a backtest rebuilds every snapshot as of today, not just the last weeks
    assert db.execute(features_today).fetchone() == before_backtest
    every_row = dbt_test_every_row(dbt_env, settings.database_url, "int_visits")
    assert every_row.returncode != 0, every_row.stdout[-3000:]
    assert "FAIL 1 expression_is_true_int_visits_saida_is_null" in every_row.stdout
