"""Scoring 100,000 members end to end against raw predict + COPY of the same rows.

    .venv/bin/python -m bench.scoring                 # 100,000 members, 3 rounds
    .venv/bin/python -m bench.scoring --members 20000 --rounds 1

Ours (`flows.scoring.score_and_store`: `models.scoring.score_members` + `serving.scores.save_batch`): read the as-of date's feature rows from PostgreSQL,
predict with the champion, risk tiers and three reason codes per member, append to
`previsoes_churn` (COPY), then Redis: the cached risks of the batch before retired (one bump of
the score generation), the at-risk list and the KPI summary.
Raw: the same feature matrix already in memory, `predict_proba`, tiers, and a COPY of the same
rows (without reasons) into `previsoes_churn`. Loading the model from MLflow is timed apart.

The features are the simulated gym's scoring rows for its as-of date, spread over existing
member ids until there are `--members` of them (a 100,000-member gym has fewer active on one
day), in a schema of their own.
"""

import argparse
import json
import statistics
import time
from datetime import UTC, datetime

import numpy as np
import psycopg

from bench.churn_data import DATABASE, SCHEMA, configure, ensure_warehouse
from bench.common import RESULTS_DIR

SCORING_SCHEMA = "analytics_bench_scoring"
MODEL = "bench-churn-scoring"


def build_scoring_features(libpq: str, as_of, members: int) -> int:
    """`members` scoring rows for `as_of`: the real ones, then copies on other member ids."""
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {SCORING_SCHEMA} cascade")
        conn.execute(f"create schema {SCORING_SCHEMA}")
        conn.execute(
            f"""
            create table {SCORING_SCHEMA}.churn_features as
            with reais as (
                select *, row_number() over (order by aluno_id) as n
                from {SCHEMA}.churn_features where data_referencia = %(as_of)s
            ),
            ids as (
                select id, row_number() over (order by id) as n from alunos limit %(members)s
            )
            select ids.id::bigint as aluno_id, r.data_referencia, r.tipo_linha, r.is_scoring_row,
                   r.plano, r.duracao_meses, r.dias_desde_ultima_visita,
                   r.duracao_media_minutos, r.duracao_media_28_dias,
                   r.visitas_7_dias, r.visitas_14_dias, r.visitas_28_dias, r.visitas_56_dias,
                   r.visitas_8_semanas_anteriores,
                   r.dias_de_casa, r.dias_para_fim_contrato, r.fracao_contrato_decorrida,
                   r.tendencia_visitas_semana, r.razao_tendencia, r.razao_tendencia_7_28,
                   r.regularidade_4_semanas, r.regularidade_8_semanas,
                   r.churn_30d
            from ids
            join reais r on r.n = 1 + (ids.n - 1) %% (select count(*) from reais)
            """,
            {"as_of": as_of, "members": members},
        )
        conn.execute(f"create index on {SCORING_SCHEMA}.churn_features (data_referencia)")
        conn.execute(f"analyze {SCORING_SCHEMA}.churn_features")
        return conn.execute(f"select count(*) from {SCORING_SCHEMA}.churn_features").fetchone()[0]


def train_champion(engine, as_of) -> None:
    from models import registry
    from models.features import load_labelled
    from models.training import train_models

    labelled = load_labelled(engine, SCHEMA, as_of=as_of)
    members = labelled["aluno_id"].unique()
    ids = np.random.default_rng(3).choice(members, size=min(8000, len(members)), replace=False)
    result = train_models(labelled[labelled["aluno_id"].isin(ids)].reset_index(drop=True))
    run_id, version = registry.log_training_run(result, model_name=MODEL, as_of=as_of)
    registry.promote_if_better(MODEL, version, run_id, result)


def raw_predict_and_copy(engine, champion, features) -> float:
    from models.features import FEATURES
    from models.scoring import risk_tier

    started = time.perf_counter()
    probabilities = champion.model.predict_proba(features[FEATURES])[:, 1]
    tiers = risk_tier(probabilities, champion.thresholds)
    scored_at = datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        with (
            raw.cursor() as cursor,
            cursor.copy(
                "copy previsoes_churn (aluno_id, data_referencia, probabilidade, faixa_risco, "
                "modelo_nome, modelo_versao, fatores, calculado_em) from stdin"
            ) as copy,
        ):
            for aluno_id, day, p, tier in zip(
                features["aluno_id"], features["data_referencia"], probabilities, tiers, strict=True
            ):
                copy.write_row((int(aluno_id), day, float(p), tier, MODEL, "raw", "[]", scored_at))
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scoring", description=__doc__)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    url = configure(args.database)
    ensure_warehouse(args.database, members=100_000, months=12)
    import redis

    from flows.scoring import score_and_store
    from models import registry
    from models.features import load_scoring, scoring_dates
    from models.scoring import load_champion
    from serving.config import get_settings
    from serving.db.engine import libpq_url, sync_engine

    settings = get_settings()
    engine = sync_engine(url)
    as_of = scoring_dates(engine, SCHEMA)[0]
    rows = build_scoring_features(libpq_url(url), as_of, args.members)
    print(f"{rows:,} members to score as of {as_of}")
    registry.use_tracking(
        settings.mlflow_tracking_uri, settings.mlflow_experiment, settings.mlflow_artifact_root
    )
    train_champion(engine, as_of)
    started = time.perf_counter()
    champion = load_champion(MODEL)
    load_s = time.perf_counter() - started
    cache = redis.Redis.from_url(settings.redis_url)
    cache.flushdb()
    features = load_scoring(engine, SCORING_SCHEMA, as_of=as_of)

    ours, raws, steps = [], [], []
    for _ in range(args.rounds):
        raws.append(raw_predict_and_copy(engine, champion, features))
        marks: list[tuple[str, float]] = []
        started = time.perf_counter()
        summary = score_and_store(
            engine,
            cache,
            schema=SCORING_SCHEMA,
            model_name=MODEL,
            as_of=as_of,
            cache_ttl=settings.churn_cache_seconds,
            time_zone=settings.gym_timezone,
            progress=lambda _f, message, marks=marks: marks.append((message, time.perf_counter())),
        )
        ended = time.perf_counter()
        # From reading the features on: the model load is measured apart.
        first = next(at for message, at in marks if message.startswith("reading features"))
        ours.append(ended - first)
        steps.append(
            {
                m.split(" ")[0]: round(b - a, 2)
                for (m, a), (_n, b) in zip(marks, [*marks[1:], ("end", ended)], strict=True)
            }
        )
        assert summary.scored == rows and summary.cache_refreshed
    best = min(range(len(ours)), key=lambda i: ours[i])
    report = {
        "benchmark": "scoring",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "members": rows,
        "rounds": args.rounds,
        "model_load_s": round(load_s, 2),
        "end_to_end_s": [round(v, 2) for v in ours],
        "raw_predict_copy_s": [round(v, 2) for v in raws],
        "ratio_median": round(statistics.median(ours) / statistics.median(raws), 2),
        "members_per_s": round(rows / statistics.median(ours)),
        "steps_s_best_round": steps[best],
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "scoring-latest.json").write_text(json.dumps(report, indent=2))
    for key, value in report.items():
        print(f"{key:22} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
