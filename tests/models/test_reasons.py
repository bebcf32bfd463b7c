"""Reason codes, as a retention agent reads them: Portuguese sentences about the member's own
numbers, only where the member is worse than most members who stayed, strongest first."""

import re

import numpy as np
import pandas as pd
import pytest

from models.features import LABEL, load_scoring
from models.reasons import (
    EARLIER_DAYS,
    RECENT_DAYS,
    TOP_REASONS,
    _days_in_window,
    _days_in_window_array,
    _regularity_weeks,
    _regularity_weeks_array,
    describe,
    explain,
    factor_values,
    reason_reference,
)
from models.scoring import Champion, predict


def member(**values) -> dict:
    """A member with healthy numbers unless told otherwise."""
    row = {
        "aluno_id": 1,
        "plano": "Anual",
        "duracao_meses": 12,
        "dias_desde_ultima_visita": 2,
        "duracao_media_minutos": 65.0,
        "duracao_media_28_dias": 65.0,
        "visitas_7_dias": 3,
        "visitas_14_dias": 6,
        "visitas_28_dias": 12,
        "visitas_56_dias": 24,
        "visitas_8_semanas_anteriores": 24,
        "dias_de_casa": 500,
        "dias_para_fim_contrato": 200,
        "fracao_contrato_decorrida": 0.452,
        "tendencia_visitas_semana": 0.0,
        "razao_tendencia": 1.0,
        "razao_tendencia_7_28": 1.0,
        "regularidade_4_semanas": 1.0,
        "regularidade_8_semanas": 1.0,
    }
    row.update(values)
    return row


@pytest.fixture(scope="module")
def reference() -> dict:
    """Members who stayed train 2-4 times a week, steadily, for about an hour; contracts end
    in one to twelve months. The model leans on the visit trend, inactivity and the contract
    end, and a little on the weekly frequency."""
    rng = np.random.default_rng(3)
    n = 400
    weekly = rng.uniform(2.0, 4.0, n)
    before = np.round(weekly * 8 * rng.uniform(0.85, 1.15, n))
    recent = np.round(weekly * 4)
    stayed = pd.DataFrame(
        {
            "aluno_id": np.arange(n),
            "plano": "Anual",
            "duracao_meses": 12,
            "dias_desde_ultima_visita": rng.integers(0, 6, n),
            "duracao_media_minutos": rng.uniform(50, 80, n),
            "duracao_media_28_dias": rng.uniform(50, 80, n),
            "visitas_7_dias": np.round(weekly),
            "visitas_14_dias": np.round(weekly * 2),
            "visitas_28_dias": recent,
            "visitas_56_dias": recent + np.round(before / 2),
            "visitas_8_semanas_anteriores": before,
            "dias_de_casa": rng.integers(120, 900, n),
            "dias_para_fim_contrato": rng.integers(30, 366, n),
            "fracao_contrato_decorrida": rng.uniform(0, 1, n).round(3),
            "tendencia_visitas_semana": recent / 4 - before / 8,
            "razao_tendencia": (recent / 4) / (before / 8),
            "razao_tendencia_7_28": (np.round(weekly) / 7 / (recent / 28)).round(3),
            "regularidade_4_semanas": rng.choice([0.75, 1.0], n),
            "regularidade_8_semanas": rng.choice([0.75, 0.875, 1.0], n),
            LABEL: 0,
        }
    )
    churned = stayed.head(20).assign(**{LABEL: 1, "dias_desde_ultima_visita": 60})
    # how much the model relies on each factor (training.factor_importance)
    weights = {
        "queda_visitas": 0.05,
        "inatividade": 0.04,
        "fim_contrato": 0.03,
        "baixa_frequencia": 0.005,
        "pouco_tempo_de_casa": 0.001,
        "irregularidade": 0.001,
        "treinos_curtos": 0.001,
    }
    return reason_reference(pd.concat([stayed, churned]), weights)


def test_a_member_who_stopped_coming_gets_reasons_in_portuguese(reference):
    falling = member(
        visitas_8_semanas_anteriores=24,  # 3 a week before
        visitas_28_dias=4,  # 1 a week in the last 4 weeks
        tendencia_visitas_semana=-2.0,
        razao_tendencia=round(1 / 3, 3),
        dias_desde_ultima_visita=20,
        dias_para_fim_contrato=9,
        regularidade_8_semanas=0.75,
    )

    [reasons] = explain(pd.DataFrame([falling]), reference)

    assert [r["descricao"] for r in reasons] == [
        "visitas caíram 67% nas últimas 4 semanas",
        "sem visitas há 20 dias",
        "contrato vence em 9 dias",
    ]
    assert [r["fator"] for r in reasons] == ["queda_visitas", "inatividade", "fim_contrato"]
    assert [r["valor"] for r in reasons] == [0.333, 20.0, 9.0]


def test_a_healthy_member_gets_no_reasons(reference):
    assert explain(pd.DataFrame([member()]), reference) == [[]]


def test_a_small_dip_is_unusual_but_not_worth_a_call(reference):
    # further out than any member who stayed, yet nothing a retention agent would call about
    dip = member(
        dias_desde_ultima_visita=6,
        visitas_8_semanas_anteriores=40,  # 5 a week before
        visitas_28_dias=17,  # 4.25 a week now
        razao_tendencia=0.85,
        tendencia_visitas_semana=-0.75,
    )

    assert explain(pd.DataFrame([dip]), reference) == [[]]


def test_at_most_three_reasons_strongest_first_one_list_per_member(reference):
    everything_wrong = member(
        visitas_28_dias=1,
        visitas_8_semanas_anteriores=20,
        tendencia_visitas_semana=-2.25,
        razao_tendencia=0.1,
        dias_desde_ultima_visita=25,
        dias_para_fim_contrato=3,
        dias_de_casa=40,
        regularidade_8_semanas=0.125,
        duracao_media_minutos=20.0,
    )
    frame = pd.DataFrame([member(aluno_id=1), everything_wrong, member(aluno_id=3)])

    explained = explain(frame, reference)

    assert len(explained) == 3
    assert explained[0] == [] and explained[2] == []
    assert len(explained[1]) == TOP_REASONS
    weights = reference["pesos"]
    strengths = [weights[r["fator"]] for r in explained[1]]
    assert strengths == sorted(strengths, reverse=True)


def test_a_member_who_never_came_is_told_so(reference):
    never = member(
        dias_de_casa=45,
        dias_desde_ultima_visita=None,
        visitas_28_dias=0,
        visitas_8_semanas_anteriores=0,
        tendencia_visitas_semana=0.0,
        razao_tendencia=None,
        duracao_media_minutos=None,
        regularidade_8_semanas=0.0,
    )

    [reasons] = explain(pd.DataFrame([never]), reference)

    assert "nenhuma visita desde a matrícula" in [r["descricao"] for r in reasons]


@pytest.mark.parametrize(
    ("code", "values", "typical", "text"),
    [
        ("inatividade", {"dias_desde_ultima_visita": 1}, 2, "sem visitas há 1 dia"),
        ("fim_contrato", {"dias_para_fim_contrato": 1}, 100, "contrato vence amanhã"),
        (
            "baixa_frequencia",
            {"visitas_28_dias": 6},
            3.0,
            "1,5 visitas por semana no último mês (quem fica faz 3,0)",
        ),
        (
            "baixa_frequencia",
            {"dias_de_casa": 20, "visitas_28_dias": 3},
            3.0,
            "1,0 visitas por semana desde a matrícula (quem fica faz 3,0)",
        ),
        (
            "inatividade",
            {"dias_desde_ultima_visita": 1250, "dias_de_casa": 1400},
            2,
            "sem visitas há 1.250 dias",
        ),
        (
            "pouco_tempo_de_casa",
            {"dias_de_casa": 0},
            400,
            "matriculado hoje (os primeiros meses concentram os cancelamentos)",
        ),
        (
            "irregularidade",
            {"dias_de_casa": 20, "regularidade_8_semanas": 0.25},
            1.0,
            "treinou em 2 das 3 semanas desde a matrícula",
        ),
        (
            "pouco_tempo_de_casa",
            {"dias_de_casa": 35},
            400,
            "matriculado há 35 dias (os primeiros meses concentram os cancelamentos)",
        ),
        (
            "irregularidade",
            {"regularidade_8_semanas": 0.375},
            1.0,
            "treinou em 3 das últimas 8 semanas",
        ),
        (
            "treinos_curtos",
            {"duracao_media_minutos": 22.4},
            64.6,
            "treinos curtos: 22 min em média (quem fica treina 65 min)",
        ),
        (
            "queda_visitas",
            {"visitas_28_dias": 6, "visitas_8_semanas_anteriores": 24},
            1.0,
            "visitas caíram 50% nas últimas 4 semanas",
        ),
    ],
)
def test_every_reason_reads_as_a_sentence(code, values, typical, text):
    assert describe(code, judged(**values), typical) == text


def test_a_sentence_counts_his_weeks_as_his_factor_values_do():
    # the sentences count one member's days and weeks, `factor_values` everyone's at once
    tenure = np.arange(0.0, 500.0, 0.5)
    for window_start, window_days in ((0, RECENT_DAYS), (RECENT_DAYS, EARLIER_DAYS)):
        assert _days_in_window_array(tenure, window_start, window_days).tolist() == [
            _days_in_window(days, window_start, window_days) for days in tenure.tolist()
        ]
    assert _regularity_weeks_array(tenure).tolist() == [
        _regularity_weeks(days) for days in tenure.tolist()
    ]


def judged(**values) -> dict:
    """A member's features and the values his factors are judged on, as `explain` reads them."""
    frame = pd.DataFrame([member(**values)])
    return {**frame.iloc[0].to_dict(), **factor_values(frame).iloc[0].to_dict()}


# ---------- what a retention agent must be able to trust


def test_a_member_without_a_completed_visit_is_not_told_his_workouts_are_short(reference):
    # his only visit is still in progress (or every exit was missed): the duration is unknown
    no_exit = member(
        duracao_media_minutos=None,
        dias_desde_ultima_visita=0,
        visitas_28_dias=1,
    )

    otherwise_healthy = member(duracao_media_minutos=None)
    frame = pd.DataFrame([no_exit, otherwise_healthy])

    for must_explain in (None, np.array([True, True])):  # the "alto" fallback says no more
        for reasons in explain(frame, reference, must_explain=must_explain):
            assert "treinos_curtos" not in [r["fator"] for r in reasons]
            assert not any("0 min" in r["descricao"] for r in reasons)


def test_a_member_who_joined_days_ago_is_not_rated_on_weeks_before_he_joined(reference):
    joined_today = member(
        dias_de_casa=0,
        dias_desde_ultima_visita=None,
        visitas_28_dias=0,
        visitas_8_semanas_anteriores=0,
        tendencia_visitas_semana=0.0,
        razao_tendencia=None,
        duracao_media_minutos=None,
        regularidade_8_semanas=0.0,
    )
    two_visits_in_five_days = member(
        dias_de_casa=5,
        dias_desde_ultima_visita=1,
        visitas_28_dias=2,
        visitas_8_semanas_anteriores=0,
        tendencia_visitas_semana=0.5,
        razao_tendencia=None,
        regularidade_8_semanas=0.125,
    )
    twice_a_week_for_three_weeks = member(
        dias_de_casa=20,
        visitas_28_dias=7,
        visitas_8_semanas_anteriores=0,
        tendencia_visitas_semana=1.75,
        razao_tendencia=None,
        regularidade_8_semanas=0.375,
    )
    frame = pd.DataFrame([joined_today, two_visits_in_five_days, twice_a_week_for_three_weeks])

    explained = explain(frame, reference)

    for reasons in explained:
        factors = {r["fator"] for r in reasons}
        assert not factors & {"baixa_frequencia", "queda_visitas", "irregularidade"}, reasons


def test_a_drop_is_measured_against_the_weeks_he_was_a_member(reference):
    # joined 55 days ago: 3 visits a week in his first 4 weeks, 1 a week in the last 4
    fell = member(
        dias_de_casa=55,
        visitas_28_dias=4,
        visitas_8_semanas_anteriores=12,
        tendencia_visitas_semana=-0.5,
        razao_tendencia=round(1 / 1.5, 3),
        regularidade_8_semanas=1.0,
    )

    [reasons] = explain(pd.DataFrame([fell]), reference)

    assert reasons[0]["descricao"] == "visitas caíram 67% nas últimas 4 semanas"
    assert reasons[0]["valor"] == 0.333


def test_a_high_risk_member_with_nothing_unusual_still_gets_a_true_reason(reference):
    # slightly below the members who stay on every count, beyond no threshold
    borderline = member(
        visitas_28_dias=10,
        visitas_8_semanas_anteriores=22,
        tendencia_visitas_semana=-0.25,
        razao_tendencia=0.909,
        dias_desde_ultima_visita=4,
        dias_para_fim_contrato=150,
        duracao_media_minutos=55.0,
    )
    frame = pd.DataFrame([borderline, borderline])

    low, high = explain(frame, reference, must_explain=np.array([False, True]))

    assert low == []
    assert len(high) >= 1
    stated = factor_values(frame.head(1)).iloc[0]
    for reason in high:
        assert reason["valor"] == round(float(stated[reason["fator"]]), 3)


def test_every_high_risk_member_of_a_scored_batch_is_given_a_reason(trained, warehouse):
    champion = Champion("churn-reasons", "1", trained.model, trained.thresholds, trained.reasons)
    features = load_scoring(warehouse.engine, warehouse.schema, as_of=warehouse.as_of)

    scored = predict(champion, features)

    high = [m for m in scored if m.faixa_risco == "alto"]
    assert len(high) >= 10
    assert [m.aluno_id for m in high if not m.fatores] == []
    unknown_duration = set(features.loc[features["duracao_media_minutos"].isna(), "aluno_id"])
    joined_lately = set(features.loc[features["dias_de_casa"] < 13, "aluno_id"])
    assert joined_lately  # the simulated gym keeps signing members up
    for scored_member in scored:
        for reason in scored_member.fatores:
            # "0 min", not "40 min": a duration no completed visit gives
            assert not re.search(r"(?<![\d,])0 min", reason["descricao"])
            if reason["fator"] == "treinos_curtos":
                assert scored_member.aluno_id not in unknown_duration
            if reason["fator"] in {"baixa_frequencia", "queda_visitas", "irregularidade"}:
                assert scored_member.aluno_id not in joined_lately, reason
