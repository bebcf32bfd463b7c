"""A backtest `--as-of D` uses nothing after D: the whole chain (dbt build as of D ▶ training ▶
registry ▶ scoring) run again after months of later check-ins, cancellations and sign-ups gives
the same training metrics and the same scores."""

import random
import uuid
from datetime import date, datetime, time, timedelta

import numpy as np
import pytest
from mlflow import MlflowClient

from flows.scoring import score_and_store
from models import registry
from models.features import FEATURES, HORIZON_DAYS, load_labelled, load_scoring
from models.training import train_models
from tests.churn_support import (
    BASE_SCHEMA,
    TZ,
    build_warehouse,
    drop_schema,
    refresh_settings,
    simulate,
)
from tests.models.conftest import SMALL_FOREST

pytestmark = pytest.mark.slow

SCHEMA = f"{BASE_SCHEMA}_backtest"
MODEL = "churn-backtest"
D = date(2025, 8, 6)  # seven weeks before the simulation ends


@pytest.fixture
def backtest(warehouse, mlflow_store):
    """Settings whose dbt schema is the backtest's own, so the package's warehouse is untouched;
    afterwards the simulated gym is imported again, exactly as it was (same seed, same ids)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_SCHEMA", SCHEMA)
        settings = refresh_settings()
        drop_schema(settings, SCHEMA)
        try:
            yield settings
        finally:
            patch.undo()
            refresh_settings()
            simulate(warehouse.settings)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ)


def add_later_history(conn, rng: random.Random) -> dict[str, int]:
    """Everything a gym records after D: visits (some just after midnight), cancellations within
    the 30 days after D (they would change labels of snapshots before D), new members."""
    members = [
        row[0]
        for row in conn.execute(
            "select id from alunos where ativo and data_matricula < %s order by id", (at(D, 0),)
        )
    ]
    events = []
    for aluno_id in rng.sample(members, 150):
        days = sorted(rng.sample(range(1, 45), 12))
        for offset in days:
            entrada = at(D + timedelta(days=offset), rng.choice([0, 7, 12, 19]), rng.randrange(60))
            events.append((aluno_id, "entrada", entrada))
            events.append((aluno_id, "saida", entrada + timedelta(minutes=rng.randrange(30, 100))))
    cancelled = rng.sample(members, 40)
    for aluno_id in cancelled:
        when = at(D + timedelta(days=rng.randrange(1, HORIZON_DAYS)), 12)
        conn.execute(
            "insert into alunos_status_historico (aluno_id, ativo, ocorrido_em, motivo) "
            "values (%s, false, %s, 'backtest')",
            (aluno_id, when),
        )
        conn.execute("update alunos set ativo = false where id = %s", (aluno_id,))
    plano = conn.execute("select min(id) from planos").fetchone()[0]
    for n in range(20):
        joined = at(D + timedelta(days=1 + n), 10)
        aluno_id = conn.execute(
            "insert into alunos (nome, plano_id, ativo, data_matricula) "
            "values (%s, %s, true, %s) returning id",
            (f"Novo depois de D {n}", plano, joined),
        ).fetchone()[0]
        conn.execute(
            "insert into alunos_status_historico (aluno_id, ativo, ocorrido_em) "
            "values (%s, true, %s)",
            (aluno_id, joined),
        )
        entrada = joined + timedelta(hours=1)
        events += [
            (aluno_id, "entrada", entrada),
            (aluno_id, "saida", entrada + timedelta(hours=1)),
        ]
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, origem) "
            "values (%s, %s, %s, %s, 'api')",
            [(uuid.uuid4(), a, tipo, when) for a, tipo, when in events],
        )
    return {"checkins": len(events), "cancelled": len(cancelled), "new_members": 20}


def run_chain(settings, engine) -> dict:
    """dbt build as of D ▶ labelled snapshots ▶ train ▶ register/promote ▶ score."""
    build_warehouse(settings, D)
    labelled = load_labelled(engine, settings.dbt_schema, as_of=D)
    result = train_models(labelled, forest_params=SMALL_FOREST)
    run_id, version = registry.log_training_run(
        result, model_name=MODEL, as_of=D, dbt_invocation_id="backtest"
    )
    promotion = registry.promote_if_better(MODEL, version, run_id, result)
    summary = score_and_store(
        engine,
        None,
        schema=settings.dbt_schema,
        model_name=MODEL,
        as_of=D,
        cache_ttl=60,
        time_zone=settings.gym_timezone,
    )
    return {
        "labelled": labelled,
        "result": result,
        "run_id": run_id,
        "version": version,
        "promotion": promotion,
        "summary": summary,
        "features": load_scoring(engine, settings.dbt_schema, as_of=D),
    }


def latest_scores(conn) -> list[tuple]:
    return conn.execute(
        "select aluno_id, probabilidade, faixa_risco, fatores, modelo_versao from previsoes_churn "
        "where data_referencia = %s and calculado_em = (select max(calculado_em) "
        "from previsoes_churn where data_referencia = %s) order by aluno_id",
        (D, D),
    ).fetchall()


def visits_in(conn) -> int:
    return conn.execute(f'select count(*) from "{SCHEMA}".int_visits').fetchone()[0]


def test_backtest_uses_nothing_after_its_date(warehouse, backtest):
    conn, engine = warehouse.conn, warehouse.engine
    conn.execute("delete from previsoes_churn")

    first = run_chain(backtest, engine)
    first_scores = latest_scores(conn)
    visits_before = visits_in(conn)

    late = add_later_history(conn, random.Random(11))
    second = run_chain(backtest, engine)
    second_scores = latest_scores(conn)

    # dbt did see the later events...
    assert visits_in(conn) > visits_before + late["checkins"] // 4
    # ...and the features, labels, metrics and scores did not move
    assert first["labelled"].equals(second["labelled"])
    assert first["features"].equals(second["features"])
    # (equal up to the order threads add up trees' votes in)
    for name, values in first["result"].metrics.items():
        assert second["result"].metrics[name] == pytest.approx(values, rel=1e-12), name
    assert first["result"].thresholds == second["result"].thresholds
    assert first["result"].reasons == second["result"].reasons
    assert first_scores == second_scores
    assert len(first_scores) == first["summary"].scored == len(first["features"]) > 0
    # the retrained model is the same model: a tie, so @champion stays
    assert first["promotion"].promoted and not second["promotion"].promoted
    features = second["features"][FEATURES]
    np.testing.assert_allclose(
        registry.load_model(MODEL, first["version"]).predict_proba(features),
        registry.load_model(MODEL, second["version"]).predict_proba(features),
        rtol=0,
        atol=1e-12,
    )

    horizon = timedelta(days=HORIZON_DAYS)
    for run in (first, second):
        split = run["result"].split
        assert all(d + horizon <= D for d in run["labelled"]["data_referencia"])
        assert all(d + horizon <= D for d in split.train["data_referencia"])
        assert all(d + horizon <= D for d in split.test["data_referencia"])
        assert MlflowClient().get_run(run["run_id"]).data.tags["as_of"] == D.isoformat()
    latest = conn.execute(f'select max(data_referencia) from "{SCHEMA}".churn_features')
    assert latest.fetchone()[0] == D
