"""Training the churn model against a raw scikit-learn fit of the same matrix.

    .venv/bin/python -m bench.training                      # 10,000 members of the 100k gym
    .venv/bin/python -m bench.training --sample-members 30000

Ours (`models.training.train_models`): the grid of small forests, the chosen configuration's
validation forest, its isotonic calibration on out-of-bag predictions, the three baselines,
permutation importances on the held-out set and the refit on every labelled row; then logging
and registering the runs in MLflow, timed apart. Raw: `RandomForestClassifier.fit` of the final
configuration (the grid's choice) on the refit's rows, already encoded.
"""

import argparse
import json
import time
from datetime import UTC, datetime

import numpy as np

from bench.churn_data import DATABASE, SCHEMA, configure, ensure_warehouse
from bench.common import RESULTS_DIR


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.training", description=__doc__)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--sample-members", type=int, default=10_000)
    args = parser.parse_args()

    configure(args.database)
    ensure_warehouse(args.database, members=100_000, months=12)
    from sklearn.ensemble import RandomForestClassifier

    from models import registry
    from models.evaluation import out_of_time_split
    from models.features import FEATURES, LABEL, fill_missing, load_labelled, scoring_dates
    from models.training import DEFAULT_FOREST, _encoder, train_models
    from serving.config import get_settings
    from serving.db.engine import sync_engine

    settings = get_settings()
    engine = sync_engine(settings.database_url)
    as_of = scoring_dates(engine, SCHEMA)[0]
    labelled = load_labelled(engine, SCHEMA, as_of=as_of)
    members = labelled["aluno_id"].unique()
    rng = np.random.default_rng(7)
    sample = rng.choice(members, size=min(args.sample_members, len(members)), replace=False)
    labelled = labelled[labelled["aluno_id"].isin(sample)].reset_index(drop=True)

    split = out_of_time_split(labelled)

    def raw_fit(params: dict, frame) -> float:
        """One RandomForestClassifier.fit on the already encoded matrix, in seconds."""
        X = _encoder(scale=False).fit_transform(fill_missing(frame[FEATURES]))
        started = time.perf_counter()
        RandomForestClassifier(**params, n_jobs=-1).fit(X, frame[LABEL])
        return time.perf_counter() - started

    marks: list[tuple[str, float]] = []
    started = time.perf_counter()
    result = train_models(
        labelled, progress=lambda _f, message: marks.append((message, time.perf_counter()))
    )
    ours = time.perf_counter() - started
    # The final configuration is the grid's choice, refitted on every labelled row: that fit,
    # raw, is the yardstick. The default forest on the split's training rows was the old one.
    final = {k: v for k, v in result.params.items() if k != "holdout_weeks"}
    raw = raw_fit(final, result.refit_data)
    raw_default_on_split = raw_fit(DEFAULT_FOREST, split.train)
    steps = {}
    for (message, at), (_next, until) in zip(
        marks, [*marks[1:], ("end", started + ours)], strict=True
    ):
        steps[message.split(" (")[0]] = round(until - at, 1)

    registry.use_tracking(
        settings.mlflow_tracking_uri, settings.mlflow_experiment, settings.mlflow_artifact_root
    )
    started = time.perf_counter()
    registry.log_training_run(result, model_name="bench-churn", as_of=as_of)
    logging_s = time.perf_counter() - started

    report = {
        "benchmark": "training",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "members_sampled": len(sample),
        "labelled_rows": len(labelled),
        "training_rows": result.sizes["rows_train_used"],
        "held_out_rows": result.sizes["rows_test"],
        "grid_size": len(result.candidates),
        "final_config": {k: final[k] for k in ("min_samples_leaf", "max_features", "class_weight")},
        "calibrated": result.calibrated,
        "refit_rows": result.sizes["rows_refit"],
        "raw_fit_s": round(raw, 1),
        "raw_default_fit_on_split_s": round(raw_default_on_split, 1),
        "train_models_s": round(ours, 1),
        "ratio_vs_raw_fit": round(ours / raw, 2),
        "steps_s": steps,
        "mlflow_log_and_register_s": round(logging_s, 1),
        "rf_roc_auc": round(result.forest_metrics["roc_auc"], 3),
        "rf_pr_auc": round(result.forest_metrics["pr_auc"], 3),
        "logistic_pr_auc": round(result.metrics["logistic_regression"]["pr_auc"], 3),
        "inactivity_pr_auc": round(result.metrics["inactivity_rule"]["pr_auc"], 3),
        "hgb_pr_auc": round(result.metrics["hist_gradient_boosting"]["pr_auc"], 3),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "training-latest.json").write_text(json.dumps(report, indent=2))
    for key, value in report.items():
        print(f"{key:28} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
