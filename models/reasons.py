"""Reason codes a retention agent can act on, in Portuguese.

For each factor, how far the member sits on the risky side of members who did NOT cancel
(their distribution in the training set, kept with the model), weighted by how much the model
relies on the factor (the factor's features shuffled together on the held-out set). The three strongest factors
where the member is worse than most staying members become the reasons. It is vectorised, so
explaining 100,000 scores costs about as much as writing them.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.features import LABEL, fill_missing

GRID = np.linspace(0, 1, 101)
# A factor is a reason only when the member is worse than this share of members who stayed.
MIN_SIGNAL = 0.75
TOP_REASONS = 3


@dataclass(frozen=True)
class Factor:
    code: str
    feature: str
    riskier_when: str  # "lower" or "higher"
    features_weighted: tuple[str, ...]


FACTORS = (
    Factor(
        "queda_visitas",
        "razao_tendencia",
        "lower",
        ("razao_tendencia", "tendencia_visitas_semana", "visitas_8_semanas_anteriores"),
    ),
    Factor("inatividade", "dias_desde_ultima_visita", "higher", ("dias_desde_ultima_visita",)),
    Factor("baixa_frequencia", "visitas_semana", "lower", ("visitas_semana", "visitas_4_semanas")),
    Factor(
        "fim_contrato",
        "dias_para_fim_contrato",
        "lower",
        ("dias_para_fim_contrato", "duracao_meses"),
    ),
    Factor("pouco_tempo_de_casa", "dias_de_casa", "lower", ("dias_de_casa",)),
    Factor("irregularidade", "regularidade_8_semanas", "lower", ("regularidade_8_semanas",)),
    Factor("treinos_curtos", "duracao_media_minutos", "lower", ("duracao_media_minutos",)),
)


# Beyond being unusual, a reason must be worth a call: a 4 % dip or 3 days away is not.
ACTIONABLE = {
    "queda_visitas": lambda f: f["razao_tendencia"] <= 0.8,
    "inatividade": lambda f: f["dias_desde_ultima_visita"] >= 7,
    "baixa_frequencia": lambda f: f["visitas_semana"] < 2,
    "fim_contrato": lambda f: f["dias_para_fim_contrato"] <= 30,
    "pouco_tempo_de_casa": lambda f: f["dias_de_casa"] <= 120,
    "irregularidade": lambda f: f["regularidade_8_semanas"] <= 0.5,
    "treinos_curtos": lambda f: f["duracao_media_minutos"] < 40,
}


def reason_reference(train: pd.DataFrame, factor_weights: dict[str, float]) -> dict[str, Any]:
    """What is stored with the model: quantiles of staying members and each factor's weight
    (how much the model relies on the factor: `training.factor_importance`)."""
    stayed = fill_missing(train[train[LABEL] == 0])
    weights = {f.code: max(0.0, float(factor_weights.get(f.code, 0.0))) for f in FACTORS}
    if sum(weights.values()) <= 0:
        weights = dict.fromkeys(weights, 1.0)
    return {
        "quantis": {
            f.code: np.quantile(stayed[f.feature], GRID).round(4).tolist() for f in FACTORS
        },
        "medianas": {f.code: float(np.median(stayed[f.feature])) for f in FACTORS},
        "pesos": weights,
    }


def _signal(values: np.ndarray, quantiles: list[float], riskier_when: str) -> np.ndarray:
    """Share of staying members the member is worse than (0..1)."""
    grid = np.asarray(quantiles)
    if riskier_when == "higher":
        return np.searchsorted(grid, values, side="left") / len(grid)
    return 1 - np.searchsorted(grid, values, side="right") / len(grid)


def _number(value: float, decimals: int = 1) -> str:
    return f"{value:.{decimals}f}".replace(".", ",")


def describe(code: str, row: dict[str, float], typical: float) -> str:
    if code == "queda_visitas":
        before = row["visitas_8_semanas_anteriores"] / 8
        now = row["visitas_4_semanas"] / 4
        drop = 1 - now / before if before > 0 else 0.0
        if before > 0:
            return f"visitas caíram {drop:.0%} nas últimas 4 semanas"
        return "visitas abaixo do ritmo de antes nas últimas 4 semanas"
    if code == "inatividade":
        days = int(row["dias_desde_ultima_visita"])
        if days > row["dias_de_casa"]:
            return "nenhuma visita desde a matrícula"
        return f"sem visitas há {days} dias" if days != 1 else "sem visitas há 1 dia"
    if code == "baixa_frequencia":
        return (
            f"{_number(row['visitas_semana'])} visitas por semana no último mês "
            f"(quem fica faz {_number(typical)})"
        )
    if code == "fim_contrato":
        days = int(row["dias_para_fim_contrato"])
        return f"contrato vence em {days} dias" if days != 1 else "contrato vence amanhã"
    if code == "pouco_tempo_de_casa":
        return (
            f"matriculado há {int(row['dias_de_casa'])} dias "
            "(os primeiros meses concentram os cancelamentos)"
        )
    if code == "irregularidade":
        weeks = round(row["regularidade_8_semanas"] * 8)
        return f"treinou em {weeks} das últimas 8 semanas"
    if code == "treinos_curtos":
        return (
            f"treinos curtos: {round(row['duracao_media_minutos'])} min em média "
            f"(quem fica treina {round(typical)} min)"
        )
    raise ValueError(f"unknown factor {code}")


def explain(features: pd.DataFrame, reference: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Up to three reasons per row, strongest first: [{"fator", "descricao", "valor"}]."""
    filled = fill_missing(features)
    codes = [f.code for f in FACTORS]
    signals = np.column_stack(
        [
            _signal(filled[f.feature].to_numpy(float), reference["quantis"][f.code], f.riskier_when)
            for f in FACTORS
        ]
    )
    weights = np.array([reference["pesos"][c] for c in codes])
    actionable = np.column_stack([ACTIONABLE[c](filled).to_numpy(bool) for c in codes])
    strength = np.where((signals >= MIN_SIGNAL) & actionable, signals * weights, 0.0)
    order = np.argsort(-strength, axis=1, kind="stable")[:, :TOP_REASONS]
    columns = {c: filled[c].to_numpy() for c in filled.columns if c != "plano"}
    explained = []
    for i in range(len(filled)):
        reasons = []
        row = None
        for j in order[i]:
            if strength[i, j] <= 0:
                break
            if row is None:  # most members have no reason: build their row only when needed
                row = {c: float(values[i]) for c, values in columns.items()}
            code = codes[j]
            reasons.append(
                {
                    "fator": code,
                    "descricao": describe(code, row, reference["medianas"][code]),
                    "valor": round(float(row[FACTORS[j].feature]), 3),
                }
            )
        explained.append(reasons)
    return explained
