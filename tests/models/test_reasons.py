"""Reason codes, as a retention agent reads them: Portuguese sentences about the member's own
numbers, only where the member is worse than most members who stayed, strongest first."""

import numpy as np
import pandas as pd
import pytest

from models.features import LABEL
from models.reasons import TOP_REASONS, describe, explain, reason_reference


def member(**values) -> dict:
    """A member with healthy numbers unless told otherwise."""
    row = {
        "aluno_id": 1,
        "plano": "Anual",
        "duracao_meses": 12,
        "visitas_semana": 3.0,
        "dias_desde_ultima_visita": 2,
        "duracao_media_minutos": 65.0,
        "dias_de_casa": 500,
        "dias_para_fim_contrato": 200,
        "visitas_4_semanas": 12,
        "visitas_8_semanas_anteriores": 24,
        "tendencia_visitas_semana": 0.0,
        "razao_tendencia": 1.0,
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
            "visitas_semana": recent / 4,
            "dias_desde_ultima_visita": rng.integers(0, 6, n),
            "duracao_media_minutos": rng.uniform(50, 80, n),
            "dias_de_casa": rng.integers(120, 900, n),
            "dias_para_fim_contrato": rng.integers(30, 366, n),
            "visitas_4_semanas": recent,
            "visitas_8_semanas_anteriores": before,
            "tendencia_visitas_semana": recent / 4 - before / 8,
            "razao_tendencia": (recent / 4) / (before / 8),
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
        visitas_4_semanas=4,  # 1 a week in the last 4 weeks
        visitas_semana=1.0,
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
    dip = member(dias_desde_ultima_visita=6, razao_tendencia=0.85, tendencia_visitas_semana=-0.4)

    assert explain(pd.DataFrame([dip]), reference) == [[]]


def test_at_most_three_reasons_strongest_first_one_list_per_member(reference):
    everything_wrong = member(
        visitas_semana=0.25,
        visitas_4_semanas=1,
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
        visitas_semana=0.0,
        visitas_4_semanas=0,
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
            {"visitas_semana": 1.5},
            3.0,
            "1,5 visitas por semana no último mês (quem fica faz 3,0)",
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
            {"visitas_4_semanas": 6, "visitas_8_semanas_anteriores": 24},
            1.0,
            "visitas caíram 50% nas últimas 4 semanas",
        ),
    ],
)
def test_every_reason_reads_as_a_sentence(code, values, typical, text):
    assert describe(code, member(**values), typical) == text
