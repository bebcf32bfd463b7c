"""Modelo: the champion and the recent versions from MLflow's registry (an external service, like
Redis: read with the tracking URI the settings name), what each training run logged
(models/registry.py: metrics with the baselines' prefixes, tags with the dates and data sizes,
the figures under plots/), and the score distributions from `previsoes_churn`."""

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import streamlit as st
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from dashboard import format as fmt
from dashboard.data.clients import settings
from dashboard.data.sql import NOT_SYNTHETIC, TTL_SECONDS, shared_frame

CHAMPION_ALIAS = "champion"  # models/registry.py CHAMPION
RECENT_VERSIONS = 5
# What a run logs for the forest (no prefix) and for each baseline (prefix + "_").
BASELINES = {
    "logistic_regression": "Regressão logística",
    "inactivity_rule": "Regra de inatividade",
    "hist_gradient_boosting": "Gradient boosting (HGB)",
}
METRICS = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "brier": "Brier",
    "lift_top10": "Lift top 10 %",
    "recall_top10": "Recall top 10 %",
    "base_rate": "Taxa base",
}
PLOTS = {
    "plots/roc.png": "ROC",
    "plots/precision_recall.png": "Precisão × recall",
    "plots/calibration.png": "Calibração",
    "plots/feature_importance.png": "Importância das variáveis",
}
SIZES = {
    "rows_labelled": "Linhas rotuladas",
    "rows_train": "Linhas de treino",
    "rows_train_used": "Linhas de treino usadas",
    "rows_test": "Linhas fora do tempo (teste)",
    "rows_members_train": "Alunos no treino",
    "rows_members_test": "Alunos no teste",
}
SCORE_BINS = 20


class RegistryUnavailable(Exception):
    def __str__(self) -> str:
        return "O MLflow não respondeu: as informações do modelo não estão disponíveis agora."


@dataclass(frozen=True)
class Version:
    version: str
    run_id: str
    champion: bool
    promotion: str | None  # the registry's verdict tag: champion / rejected
    promotion_reason: str | None
    trained_at: datetime | None
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def as_of(self) -> str | None:
        return self.tags.get("as_of")

    @property
    def gate(self) -> tuple[bool, str] | None:
        """The promotion gate's verdict on this version (models/registry.py tags `gate.*`,
        metrics `gate_<rival>_diff|low|high`): (promoted, the reason in pt-BR), or None for a
        version logged before the gate."""
        decision = self.tags.get("gate.decision")
        if decision is None:
            return None
        return decision == "promoted", gate_reason(self.tags, self.metrics)

    def baseline_metrics(self, prefix: str) -> dict[str, float]:
        return {
            name: self.metrics[f"{prefix}_{name}"]
            for name in METRICS
            if f"{prefix}_{name}" in self.metrics
        }


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "−") + fmt.decimal(abs(value), 4)


def gate_reason(tags: dict[str, str], metrics: dict[str, float]) -> str:
    """The gate's reason in pt-BR, from the PR-AUC difference and interval it logged against
    each rival; a run that logged no rivals list keeps the reason it wrote."""
    rivals = [key for key in tags.get("gate.rivals", "").split(",") if key]
    try:
        parts = [
            tuple(metrics[f"gate_{key}_{p}"] for p in ("diff", "low", "high")) for key in rivals
        ]
    except KeyError:
        parts = []
    if not parts:
        return tags.get("gate.reason", "")
    labels = {
        key: f"campeã v{tags.get('gate.champion_version', '?')}"
        if key == "champion"
        else BASELINES.get(key, key)
        for key in rivals
    }
    unbeaten = [labels[key] for key, (_d, low, _h) in zip(rivals, parts, strict=True) if low <= 0]
    differences = "; ".join(
        f"{labels[key]} {_signed(d)} [{_signed(low)}, {_signed(high)}]"
        for key, (d, low, high) in zip(rivals, parts, strict=True)
    )
    confidence = float(tags.get("gate.confidence", "0.95"))
    detail = (
        f"diferença de PR-AUC {differences}; intervalo de {fmt.percentual(confidence, 0)} por "
        f"bootstrap pareado por aluno, {tags.get('gate.resamples', '?')} reamostragens"
    )
    if tags.get("gate.first_model") == "true":
        if unbeaten:
            return (
                "primeiro modelo: vira campeão mesmo sem superar "
                + ", ".join(unbeaten)
                + f" além do ruído ({detail})"
            )
        return f"primeiro modelo: vira campeão e supera todos os rivais ({detail})"
    if unbeaten:
        return f"não supera {', '.join(unbeaten)} além do ruído ({detail})"
    return f"supera todos os rivais além do ruído ({detail})"


def _client() -> MlflowClient:
    uri = settings().mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _champion_version(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version)
    except MlflowException:
        return None  # no registered model yet, or no alias on it


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def versions(model_name: str, limit: int = RECENT_VERSIONS) -> list[Version]:
    """The champion and the newest versions (newest first; the champion always included)."""
    try:
        client = _client()
        champion = _champion_version(client, model_name)
        if champion is None:
            return []
        found = list(
            client.search_model_versions(
                f"name = '{model_name}'", max_results=limit, order_by=["version_number DESC"]
            )
        )
        if all(str(v.version) != champion for v in found):
            found.append(client.get_model_version(model_name, champion))
        out = []
        for mv in found:
            run_id = str(mv.run_id)
            run = client.get_run(run_id)
            started = run.info.start_time
            out.append(
                Version(
                    version=str(mv.version),
                    run_id=run_id,
                    champion=str(mv.version) == champion,
                    promotion=mv.tags.get("promotion"),
                    promotion_reason=mv.tags.get("promotion_reason"),
                    trained_at=datetime.fromtimestamp(started / 1000, UTC) if started else None,
                    metrics=dict(run.data.metrics),
                    tags=dict(run.data.tags),
                )
            )
        return out
    except (MlflowException, OSError) as exc:
        raise RegistryUnavailable() from exc


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def figure(run_id: str, path: str) -> bytes | None:
    """A PNG the run logged, or None when it did not log it."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = _client().download_artifacts(run_id, path, tmp)
            return Path(local).read_bytes()
    except (MlflowException, OSError):
        return None


def comparison(shown: list[Version]) -> pd.DataFrame:
    """One row per version, then the champion run's baselines (measured on the same held-out
    data): modelo plus the metric columns."""
    rows = []
    for v in shown:
        label = f"v{v.version}" + (" (campeão)" if v.champion else "")
        rows.append({"modelo": label} | {METRICS[k]: v.metrics.get(k) for k in METRICS})
    champion = next((v for v in shown if v.champion), None)
    if champion is not None:
        for prefix, name in BASELINES.items():
            values = champion.baseline_metrics(prefix)
            if values:
                rows.append(
                    {"modelo": f"{name} (base, v{champion.version})"}
                    | {METRICS[k]: values.get(k) for k in METRICS}
                )
    return pd.DataFrame(rows)


def score_histograms(version: str, as_of: str | None) -> pd.DataFrame:
    """lote, faixa_inicio (bin start), alunos, parcela: today's scores of active members
    against the champion's first batch on its training as-of date (the registry logs no score
    distribution of its own), in bins of 1/SCORE_BINS."""
    return shared_frame(
        f"""
        with hoje as (
            select 'hoje' as lote, p.probabilidade
            from previsoes_churn_atuais p join alunos a on a.id = p.aluno_id
            where a.ativo and {NOT_SYNTHETIC}
        ),
        referencia as (
            select 'treino' as lote, p.probabilidade
            from previsoes_churn p join alunos a on a.id = p.aluno_id
            where {NOT_SYNTHETIC}
                and p.modelo_versao = :versao
                and p.data_referencia = cast(:as_of as date)
                and p.calculado_em = (
                    select min(calculado_em) from previsoes_churn
                    where modelo_versao = :versao and data_referencia = cast(:as_of as date)
                )
        ),
        todos as (select * from hoje union all select * from referencia)
        select lote,
               (least(width_bucket(probabilidade, 0, 1, :bins), :bins) - 1) / cast(:bins as float)
                   as faixa_inicio,
               count(*) as alunos
        from todos
        group by 1, 2
        order by 1, 2
        """,
        versao=version,
        as_of=as_of,
        bins=SCORE_BINS,
    ).assign(parcela=lambda d: d["alunos"] / d.groupby("lote")["alunos"].transform("sum"))


# The monitor's lines (models/monitoring.py PSI_ALERT, GAP_ALERT_PP); the rows carry their flags.
PSI_ALERT = 0.2
GAP_ALERT_PP = 2.0


def drift(model_name: str) -> pd.DataFrame:
    """data_referencia, modelo_versao, variavel, psi, alerta, data_populacao, data_base: the
    newest night's PSI of each feature (the snapshot of `data_populacao` against the champion's
    training weeks) and of the score (the night's batch against the version's first, of
    `data_base`) (migrations 0009, 0010)."""
    return shared_frame(
        """
        select data_referencia, modelo_versao, variavel, psi, alerta, data_populacao, data_base
        from monitoramento_drift
        where modelo_nome = :nome
            and data_referencia = (
                select max(data_referencia) from monitoramento_drift where modelo_nome = :nome
            )
        order by psi desc, variavel
        """,
        nome=model_name,
    )


def calibration(model_name: str) -> pd.DataFrame:
    """data_referencia, modelo_versao, mes, faixa_risco, datas_pontuacao, pontuacoes, prevista,
    realizada, diferenca_pp, alerta: the newest night's realised-vs-predicted churn per month
    and tier (`todas`: the whole month), for scoring dates whose 30 days had closed."""
    return shared_frame(
        """
        select data_referencia, modelo_versao, mes, faixa_risco, datas_pontuacao, pontuacoes,
               prevista, realizada, diferenca_pp, alerta
        from monitoramento_calibracao
        where modelo_nome = :nome
            and data_referencia = (
                select max(data_referencia) from monitoramento_calibracao where modelo_nome = :nome
            )
        order by mes, faixa_risco
        """,
        nome=model_name,
    )
