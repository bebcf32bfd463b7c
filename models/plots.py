"""The figures a run logs: ROC, precision-recall and calibration of the candidate against the
baselines on the held-out set, and feature importances. Plain `Figure` objects, no pyplot: no
global backend is switched, so a notebook importing this still shows its own figures inline."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from models.evaluation import calibration_table

LABELS = {
    "random_forest": "Random Forest",
    "logistic_regression": "Regressão logística",
    "inactivity_rule": "Regra de inatividade",
    "hist_gradient_boosting": "Gradient boosting (HGB)",
}


def roc_figure(y_true: np.ndarray, scores: dict[str, np.ndarray], aucs: dict[str, float]):
    figure = Figure(figsize=(5.5, 5))
    axis = figure.subplots()
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(y_true, score)
        axis.plot(fpr, tpr, label=f"{LABELS.get(name, name)} (AUC {aucs[name]:.3f})")
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axis.set(xlabel="Falsos positivos", ylabel="Verdadeiros positivos", title="ROC (fora do tempo)")
    axis.legend(loc="lower right")
    figure.tight_layout()
    return figure


def pr_figure(y_true: np.ndarray, scores: dict[str, np.ndarray], aucs: dict[str, float]):
    figure = Figure(figsize=(5.5, 5))
    axis = figure.subplots()
    for name, score in scores.items():
        precision, recall, _ = precision_recall_curve(y_true, score)
        axis.plot(recall, precision, label=f"{LABELS.get(name, name)} (AP {aucs[name]:.3f})")
    axis.axhline(np.mean(y_true), linestyle=":", color="grey", label="Taxa base")
    axis.set(xlabel="Recall", ylabel="Precisão", title="Precisão × recall (fora do tempo)")
    axis.legend(loc="upper right")
    figure.tight_layout()
    return figure


def calibration_figure(y_true: np.ndarray, scores: dict[str, np.ndarray]):
    figure = Figure(figsize=(5.5, 5))
    axis = figure.subplots()
    for name, score in scores.items():
        table = calibration_table(y_true, score)
        axis.plot(table["prevista"], table["observada"], marker="o", label=LABELS.get(name, name))
    top = max(0.05, max(float(np.max(s)) for s in scores.values()))
    axis.plot([0, top], [0, top], linestyle=":", color="grey", label="Perfeita")
    axis.set(xlabel="Probabilidade prevista", ylabel="Taxa observada", title="Calibração")
    axis.legend(loc="upper left")
    figure.tight_layout()
    return figure


def importance_figure(importances: pd.DataFrame):
    ordered = importances.sort_values("importancia")
    figure = Figure(figsize=(6, 4.5))
    axis = figure.subplots()
    axis.barh(ordered["feature"], ordered["importancia"], xerr=ordered["desvio"], color="#2a7ab0")
    axis.set(xlabel="Queda de PR-AUC ao embaralhar", title="Importância das features")
    figure.tight_layout()
    return figure


def close(figure: Figure) -> None:
    """Nothing to release without pyplot; kept so callers need not know."""
