"""Jobs requested from Operações (retrain, rescore, daily report): request them, follow them live
(a fragment polls `GET /admin/jobs/{id}` while any is unfinished) and list the recent ones."""

from datetime import date, datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import format as fmt
from dashboard import ui
from dashboard.data import operations
from dashboard.data.api import ApiError, ApiUnavailable
from dashboard.data.clients import settings
from dashboard.data.operations import CHURN_SCORING, DAILY_REPORT, MODEL_UPDATE, UNFINISHED

FOLLOWED_KEY = "ops_tarefas_acompanhadas"  # {job id: last state seen}, newest first
FOLLOW_AT_MOST = 5
POLL_SECONDS = 2.0
KIND_LABELS = {
    MODEL_UPDATE: "Retreinar o modelo",
    CHURN_SCORING: "Recalcular o risco de churn",
    DAILY_REPORT: "Relatório diário",
}
STATE_LABELS = {
    "queued": "na fila",
    "running": "em execução",
    "done": "concluída",
    "failed": "falhou",
}
# The worker's step messages are English; the common ones read better translated.
MESSAGE_LABELS = {
    "waiting for a worker": "aguardando o worker de tarefas (gympulse worker jobs)",
    "started": "iniciada",
    "done": "concluída",
    "building the warehouse (dbt)": "construindo o warehouse (dbt)",
}


def _when(text: str | None) -> str:
    return fmt.data_hora(datetime.fromisoformat(text), settings().tz) if text else "—"


def _day(text: str | None) -> str:
    return fmt.data(date.fromisoformat(text[:10])) if text else "—"


def follow(job: dict[str, Any]) -> None:
    followed: dict[str, str] = st.session_state.setdefault(FOLLOWED_KEY, {})
    followed = {str(job["id"]): job["estado"], **followed}
    st.session_state[FOLLOWED_KEY] = dict(list(followed.items())[:FOLLOW_AT_MOST])


def request(kind: str, down: str | None, body: dict[str, Any] | None = None, *, key: str) -> None:
    """A button that queues a job of `kind` and starts following it."""
    if st.button(KIND_LABELS[kind], key=key, disabled=bool(down), help=down, type="primary"):
        job = ui.run_action(
            "Enfileirando…",
            lambda: operations.request_job(kind, body),
            "Tarefa enfileirada: o progresso aparece em Acompanhamento, no alto da página.",
        )
        if job:
            follow(job)


def _result(job: dict[str, Any]) -> str:
    result = job.get("resultado") or {}
    if job["tipo"] == CHURN_SCORING:
        return (
            f"{fmt.inteiro(result.get('alunos_pontuados'))} alunos pontuados com o modelo "
            f"v{result.get('modelo_versao', '—')}, referência {_day(result.get('data_referencia'))}."
        )
    if job["tipo"] == MODEL_UPDATE:
        verdict = "promovido a campeão" if result.get("promovido") else "não promovido"
        return f"Modelo v{result.get('modelo_versao', '—')} treinado: {verdict}. {result.get('motivo') or ''}"
    if job["tipo"] == DAILY_REPORT:
        return f"Relatório de {_day(result.get('data'))} pronto: abra-o na aba Relatório diário."
    return "Concluída."


def _card(job: dict[str, Any]) -> None:
    estado = job["estado"]
    with st.container(border=True):
        st.markdown(
            f"**{KIND_LABELS.get(job['tipo'], job['tipo'])}** · {STATE_LABELS.get(estado, estado)}"
        )
        st.caption(
            f"Solicitada por {job.get('solicitado_por') or '—'} em {_when(job['criado_em'])}"
        )
        if estado in UNFINISHED:
            message = job.get("mensagem") or ""
            st.progress(
                float(job["progresso"]),
                text=f"{fmt.percentual(float(job['progresso']), 0)} · {MESSAGE_LABELS.get(message, message)}",
            )
        elif estado == "done":
            st.progress(1.0, text=f"Concluída em {_when(job.get('terminado_em'))}")
            st.success(_result(job))
            with st.expander("Resultado completo"):
                st.json(job.get("resultado") or {})
        else:
            st.error(f"A tarefa falhou: {job.get('erro') or 'sem detalhe'}")


def _panel() -> None:
    followed: dict[str, str] = dict(st.session_state.get(FOLLOWED_KEY, {}))
    was_running = any(state in UNFINISHED for state in followed.values())
    st.subheader("Acompanhamento")
    for job_id in followed:
        try:
            job = operations.job(job_id)
        except (ApiUnavailable, ApiError) as exc:
            st.caption(f"Não foi possível ler a tarefa {job_id[:8]}: {exc}")
            continue
        followed[job_id] = job["estado"]
        _card(job)
    st.session_state[FOLLOWED_KEY] = followed
    if was_running and not any(state in UNFINISHED for state in followed.values()):
        # Every job ended: one full rerun stops the polling and refreshes the lists below.
        st.rerun()


def live_panel() -> None:
    """The followed jobs, polled every POLL_SECONDS while any of them is unfinished."""
    followed: dict[str, str] = st.session_state.get(FOLLOWED_KEY, {})
    if not followed:
        return
    running = any(state in UNFINISHED for state in followed.values())
    st.fragment(run_every=POLL_SECONDS if running else None)(_panel)()


def recent(limit: int = 15) -> None:
    try:
        jobs = operations.recent_jobs(limit)
    except (ApiUnavailable, ApiError) as exc:
        st.caption(f"Lista de tarefas indisponível: {exc}")
        return
    if not jobs:
        st.info("Nenhuma tarefa solicitada ainda.")
        return
    table = pd.DataFrame(
        {
            "Tarefa": [KIND_LABELS.get(j["tipo"], j["tipo"]) for j in jobs],
            "Estado": [STATE_LABELS.get(j["estado"], j["estado"]) for j in jobs],
            "Progresso": [float(j["progresso"]) for j in jobs],
            "Solicitada por": [j.get("solicitado_por") or "—" for j in jobs],
            "Criada em": [_when(j["criado_em"]) for j in jobs],
            "Terminada em": [_when(j.get("terminado_em")) for j in jobs],
            "Erro": [j.get("erro") or "" for j in jobs],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "Progresso": st.column_config.ProgressColumn(
                "Progresso", min_value=0.0, max_value=1.0, format="percent"
            )
        },
    )
