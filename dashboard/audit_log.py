"""Auditoria, on Operações (admin): the latest admin actions as `GET /admin/auditoria` gives them
(read with the user's token: the read-only database role cannot read the log), in Portuguese,
dates in the gym's time zone."""

import re
from datetime import date, datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import format as fmt
from dashboard.data import operations
from dashboard.data.api import ApiError, ApiUnavailable
from dashboard.data.clients import settings

LATEST = 50
# Restated from serving.vocabulary.AUDIT_ACTIONS (the dashboard may not import it); a test
# checks they agree.
ACTION_LABELS = {
    "usuario.criado": "Usuário criado",
    "usuario.alterado": "Usuário alterado",
    "dispositivo.criado": "Quiosque criado",
    "dispositivo.revogado": "Quiosque revogado",
    "plano.criado": "Plano criado",
    "plano.alterado": "Plano alterado",
    "job.solicitado": "Tarefa solicitada",
    "aluno.registrado": "Aluno matriculado",
    "aluno.alterado": "Aluno alterado",
    "aluno.ativado": "Aluno reativado",
    "aluno.desativado": "Aluno desativado",
    "aluno_sintetico.criado": "Aluno sintético criado",
}
TARGET_LABELS = {
    "usuario": "usuário",
    "dispositivo": "quiosque",
    "plano": "plano",
    "job": "tarefa",
    "aluno": "aluno",
}
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def target(alvo: str) -> str:
    """`usuario:12` → `usuário 12`; a job by the start of its id."""
    kind, _, ident = alvo.partition(":")
    return f"{TARGET_LABELS.get(kind, kind)} {ident[:8] if kind == 'job' else ident}".strip()


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "sim" if value else "não"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v)}" for k, v in value.items()) or "—"
    if isinstance(value, str) and _ISO_DAY.match(value):
        return fmt.data(date.fromisoformat(value))
    return str(value)


def details(detalhes: dict[str, Any]) -> str:
    """`{"role": "analista", "email": "alterado"}` → `role: analista · email: alterado`."""
    return " · ".join(f"{field}: {_value(value)}" for field, value in detalhes.items()) or "—"


def render(down: str | None) -> None:
    st.markdown(
        f"As últimas {LATEST} ações de administração: quem fez, o quê e quando. Dados pessoais e "
        "segredos aparecem só como “informado” ou “alterado”, nunca o valor."
    )
    if down:
        st.caption("Auditoria: indisponível enquanto a API não responde.")
        return
    try:
        entries = operations.audit_entries(LATEST)
    except (ApiUnavailable, ApiError) as exc:
        st.caption(f"Auditoria: indisponível ({exc}).")
        return
    if not entries:
        st.info("Nenhuma ação registrada ainda.")
        return
    tz = settings().tz
    st.dataframe(
        pd.DataFrame(
            {
                "Quando": [
                    fmt.data_hora(datetime.fromisoformat(e["ocorrido_em"]), tz) for e in entries
                ],
                "Quem": [e["ator"] for e in entries],
                "Ação": [ACTION_LABELS.get(e["acao"], e["acao"]) for e in entries],
                "Alvo": [target(e["alvo"]) for e in entries],
                "Detalhes": [details(e["detalhes"]) for e in entries],
            }
        ),
        hide_index=True,
        width="stretch",
    )
