"""Operações (admin): retrain, rescore and the daily report with live progress, a check-in CSV,
a synthetic student and its risk, staff users, kiosks, the audit log and the system's status. Everything goes
through the API with the user's token; with the API down the page renders and every button says
why it is disabled."""

import base64
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from dashboard import audit_log, checkin_upload, job_progress, ui
from dashboard import format as fmt
from dashboard.data import operations
from dashboard.data.api import ApiError, ApiUnavailable
from dashboard.data.clients import settings
from dashboard.data.operations import CHURN_SCORING, DAILY_REPORT, MODEL_UPDATE

T = TypeVar("T")
ROLES = ("admin", "analista", "recepcao")
ROLE_LABELS = {"admin": "admin", "analista": "analista", "recepcao": "recepção"}
HEALTH_LABELS = {"ok": "ok", "degraded": "degradado", "down": "fora do ar"}
SYNTHETIC_KEY = "ops_sintetico_criado"  # the last synthetic student and its risk

ui.page("operacoes")
tz = settings().tz
down = ui.api_down_reason()
if down:
    st.warning(f"{down} Os botões desta página ficam desativados até a API voltar.")
progress_area = st.container()


def _load(what: str, read: Callable[[], T]) -> T | None:
    """A read from the API, or None with a line saying why (the page goes on)."""
    if down:
        st.caption(f"{what}: indisponível enquanto a API não responde.")
        return None
    try:
        return read()
    except (ApiUnavailable, ApiError) as exc:
        st.caption(f"{what}: indisponível ({exc}).")
        return None


def _when(text: str | None) -> str:
    return fmt.data_hora(datetime.fromisoformat(text), tz) if text else "—"


def jobs_tab() -> None:
    st.markdown(
        "Cada botão enfileira uma tarefa para o worker de tarefas; o progresso aparece em "
        "Acompanhamento, no alto da página, e se atualiza sozinho."
    )
    left, right = st.columns(2)
    with left:
        job_progress.request(MODEL_UPDATE, down, key="tarefa_atualizar_modelo")
        st.caption("Treina com os dados de hoje e promove o modelo só se ele superar o campeão.")
    with right:
        job_progress.request(CHURN_SCORING, down, key="tarefa_calcular_churn")
        st.caption("Calcula o risco de todos os alunos ativos com o modelo campeão.")
    st.subheader("Tarefas recentes")
    if down:
        st.caption("Tarefas recentes: indisponível enquanto a API não responde.")
    else:
        job_progress.recent()


def _report_viewer(day: date) -> None:
    try:
        html = operations.report_html(day)
    except (ApiUnavailable, ApiError) as exc:
        st.error(f"Não foi possível abrir o relatório: {exc}")
        return
    st.download_button(
        "Baixar relatório (HTML)",
        data=html,
        file_name=f"relatorio-{day.isoformat()}.html",
        mime="text/html",
        key="relatorio_baixar",
        on_click="ignore",
        icon=":material/download:",
    )
    # A data: URL gives the report a frame of its own origin: its styles stay out of the app and
    # nothing in it can reach the session.
    encoded = base64.b64encode(html.encode()).decode()
    st.iframe(f"data:text/html;base64,{encoded}", height=900, alt=f"Relatório de {fmt.data(day)}")


def report_tab() -> None:
    today = datetime.now(tz).date()
    day = st.date_input(
        "Dia do relatório",
        value=today,
        max_value=today,
        format="DD/MM/YYYY",
        key="relatorio_pedir_dia",
    )
    job_progress.request(
        DAILY_REPORT,
        down,
        {"data": day.isoformat()} if isinstance(day, date) else None,
        key="tarefa_relatorio",
    )
    st.caption("Gerar de novo um dia já gerado substitui o relatório dele.")
    st.subheader("Relatórios gerados")
    stored = _load("Relatórios", operations.reports)
    if stored is None:
        return
    if not stored:
        st.info("Nenhum relatório gerado ainda.")
        return
    days = {date.fromisoformat(r["data"]): r for r in stored}
    chosen = st.selectbox(
        "Abrir o relatório de",
        list(days),
        format_func=lambda d: (
            f"{fmt.data(d)} · {fmt.inteiro(days[d]['totais']['visitas'])} visitas "
            f"(gerado em {_when(days[d]['gerado_em'])})"
        ),
        key="relatorio_dia",
    )
    if chosen is not None:
        _report_viewer(chosen)


def _show_synthetic(
    created: dict[str, Any], risk: dict[str, Any] | None, risk_error: str | None
) -> None:
    st.success(
        f"Aluno sintético #{created['aluno_id']} criado ({created['aluno_ref']}): "
        f"{fmt.inteiro(created['visitas'])} visitas, {fmt.inteiro(created['checkins'])} check-ins."
    )
    if risk is None:
        st.warning(f"Risco indisponível: {risk_error}")
    else:
        left, right = st.columns([1, 2])
        left.metric(
            "Probabilidade de evasão em 30 dias",
            fmt.percentual(float(risk["probabilidade"])),
            border=True,
        )
        left.caption(
            f"Faixa: **{risk['faixa_risco']}** · modelo {risk['modelo_nome']} v{risk['modelo_versao']}"
        )
        with right:
            st.markdown("**Motivos**")
            for factor in risk.get("fatores") or []:
                st.markdown(f"- {factor['descricao']}")
            if not risk.get("fatores"):
                st.caption("Nenhum motivo forte: perto do padrão de quem fica.")
    st.page_link(
        "pages/aluno.py",
        label="Abrir na página Aluno",
        query_params={"aluno": str(created["aluno_id"])},
        icon=":material/person:",
    )


def synthetic_tab() -> None:
    st.markdown(
        "Cria um aluno com o perfil escolhido (histórico gravado na hora) e mostra o risco que o "
        "modelo campeão dá a ele. Alunos sintéticos ficam fora das listas e dos indicadores."
    )
    plans = _load("Planos", operations.plan_names) or []
    with st.form("aluno_sintetico"):
        plano = st.selectbox("Plano", plans, key="sintetico_plano")
        cols = st.columns(4)
        visitas = cols[0].number_input(
            "Visitas por semana", 0.5, 14.0, 2.0, 0.5, key="sintetico_visitas"
        )
        duracao = cols[1].number_input(
            "Duração média (min)", 10, 300, 50, 5, key="sintetico_duracao"
        )
        semanas = cols[2].number_input(
            "Semanas de histórico", 1, 156, 16, 1, key="sintetico_semanas"
        )
        dias = cols[3].number_input(
            "Dias desde a última visita", 0, 156 * 7 - 1, 12, 1, key="sintetico_dias"
        )
        nome = st.text_input("Nome (opcional)", max_chars=200, key="sintetico_nome")
        submitted = st.form_submit_button(
            "Criar aluno sintético",
            key="sintetico_criar",
            disabled=bool(down) or not plans,
            help=down,
        )
    if submitted:
        if dias >= semanas * 7:
            st.error("Os dias desde a última visita precisam caber no histórico (semanas × 7).")
        else:
            profile = {
                "plano": plano,
                "visitas_semana": float(visitas),
                "duracao": float(duracao),
                "semanas": int(semanas),
                "dias_desde_ultima": int(dias),
                **({"nome": nome.strip()} if nome.strip() else {}),
            }
            created = ui.run_action(
                "Criando…", lambda: operations.create_synthetic_student(profile), "Aluno criado."
            )
            if created:
                risk, risk_error = None, None
                try:
                    with st.spinner("Calculando o risco…"):
                        risk = operations.churn_risk(int(created["aluno_id"]))
                except (ApiUnavailable, ApiError) as exc:
                    risk_error = str(exc)
                st.session_state[SYNTHETIC_KEY] = (created, risk, risk_error)
    if SYNTHETIC_KEY in st.session_state:
        _show_synthetic(*st.session_state[SYNTHETIC_KEY])


def _new_user_form() -> None:
    with st.expander("Novo usuário"), st.form("usuario_novo", clear_on_submit=True):
        cols = st.columns(2)
        username = cols[0].text_input("Usuário", key="usuario_novo_username")
        password = cols[1].text_input(
            "Senha (mínimo 10 caracteres)", type="password", key="usuario_novo_senha"
        )
        role = cols[0].selectbox(
            "Perfil", ROLES, format_func=ROLE_LABELS.__getitem__, key="usuario_novo_perfil"
        )
        nome = cols[1].text_input("Nome (opcional)", key="usuario_novo_nome")
        email = st.text_input("E-mail (opcional)", key="usuario_novo_email")
        if st.form_submit_button(
            "Criar usuário", key="usuario_criar", disabled=bool(down), help=down
        ):
            body = {"username": username.strip(), "password": password, "role": role}
            body |= {k: v.strip() for k, v in (("nome", nome), ("email", email)) if v.strip()}
            ui.run_action(
                "Criando…",
                lambda: operations.create_user(body),
                f"Usuário {body['username']} criado.",
            )


def _edit_user(staff: list[dict[str, Any]]) -> bool:
    """Role and active flag of one user; True when the API took a change."""
    with st.expander("Alterar perfil ou desativar"):
        by_id = {u["id"]: u for u in staff}
        chosen = st.selectbox(
            "Usuário",
            list(by_id),
            format_func=lambda i: f"{by_id[i]['username']} ({ROLE_LABELS[by_id[i]['role']]})",
            key="usuario_escolhido",
        )
        current = by_id[chosen]
        # Keyed by user: choosing another user shows that user's values, not the last edit.
        role = st.selectbox(
            "Perfil",
            ROLES,
            index=ROLES.index(current["role"]),
            format_func=ROLE_LABELS.__getitem__,
            key=f"usuario_perfil_{chosen}",
        )
        active = st.toggle("Ativo", value=current["ativo"], key=f"usuario_ativo_{chosen}")
        if not st.button("Salvar alterações", key="usuario_salvar", disabled=bool(down), help=down):
            return False
        changes = {k: v for k, v in (("role", role), ("ativo", active)) if v != current[k]}
        if not changes:
            st.info("Nada a alterar.")
            return False
        return bool(
            ui.run_action(
                "Salvando…",
                lambda: operations.update_user(chosen, changes),
                f"Usuário {current['username']} atualizado.",
            )
        )


def users_tab() -> None:
    listing = st.container()  # filled last, so it shows the changes made below it
    _new_user_form()
    staff = _load("Usuários", operations.users)
    if staff and _edit_user(staff):
        staff = operations.users()
    if staff:
        listing.dataframe(
            pd.DataFrame(
                {
                    "ID": [u["id"] for u in staff],
                    "Usuário": [u["username"] for u in staff],
                    "Nome": [u.get("nome") or "" for u in staff],
                    "Perfil": [ROLE_LABELS.get(u["role"], u["role"]) for u in staff],
                    "Ativo": [u["ativo"] for u in staff],
                    "Criado em": [_when(u["criado_em"]) for u in staff],
                }
            ),
            hide_index=True,
            width="stretch",
        )


def _new_device_form() -> None:
    with st.form("dispositivo_novo", clear_on_submit=True):
        st.markdown("**Novo quiosque**")
        cols = st.columns(2)
        nome = cols[0].text_input("Nome", max_chars=120, key="dispositivo_nome")
        local = cols[1].text_input("Local (opcional)", max_chars=200, key="dispositivo_local")
        submitted = st.form_submit_button(
            "Criar quiosque", key="dispositivo_criar", disabled=bool(down), help=down
        )
    if not submitted:
        return
    if not nome.strip():
        st.error("Informe o nome do quiosque.")
        return
    created = ui.run_action(
        "Criando…",
        lambda: operations.create_device(nome.strip(), local.strip() or None),
        f"Quiosque {nome.strip()} criado.",
    )
    if created:
        # Only in this run: the API never shows the key again, and neither does the page.
        st.warning(
            "Copie a chave agora: ela não será mostrada de novo. O quiosque a envia no "
            "cabeçalho X-API-Key."
        )
        st.code(created["api_key"], language=None)


def _revoke(kiosks: list[dict[str, Any]]) -> bool:
    """True when a key was revoked."""
    by_id = {d["id"]: d for d in kiosks if not d.get("revogado_em")}
    if not by_id:
        return False
    cols = st.columns([3, 1], vertical_alignment="bottom")
    chosen = cols[0].selectbox(
        "Revogar a chave de",
        list(by_id),
        format_func=lambda i: f"{by_id[i]['nome']} ({by_id[i]['chave_prefixo']}…)",
        key="dispositivo_revogar_escolhido",
    )
    if not cols[1].button(
        "Revogar chave", key="dispositivo_revogar", disabled=bool(down), help=down
    ):
        return False
    return bool(
        ui.run_action(
            "Revogando…",
            lambda: operations.revoke_device(chosen),
            f"Chave de {by_id[chosen]['nome']} revogada: o quiosque para de funcionar em segundos.",
        )
    )


def devices_tab() -> None:
    listing = st.container()  # filled last, so it shows the changes made below it
    _new_device_form()
    kiosks = _load("Quiosques", operations.devices)
    if kiosks and _revoke(kiosks):
        kiosks = operations.devices()
    if kiosks is None:
        return
    if not kiosks:
        listing.info("Nenhum quiosque cadastrado.")
        return
    listing.dataframe(
        pd.DataFrame(
            {
                "ID": [d["id"] for d in kiosks],
                "Nome": [d["nome"] for d in kiosks],
                "Local": [d.get("local") or "" for d in kiosks],
                "Chave (início)": [d["chave_prefixo"] for d in kiosks],
                "Criado em": [_when(d["criado_em"]) for d in kiosks],
                "Último uso": [_when(d.get("ultimo_uso_em")) for d in kiosks],
                "Revogado em": [_when(d.get("revogado_em")) for d in kiosks],
            }
        ),
        hide_index=True,
        width="stretch",
    )


def status_tab() -> None:
    st.button("Atualizar", key="status_atualizar", icon=":material/refresh:")
    status = _load("Status do sistema", operations.system_status)
    if status is None:
        return
    st.markdown(
        f"Situação geral: **{HEALTH_LABELS.get(status['status'], status['status'])}** · versão "
        f"{status['versao']} · ambiente {status['ambiente']} · migração {status.get('migracao') or '—'}"
    )
    cols = st.columns(3)
    for col, (name, service) in zip(
        cols,
        (
            ("PostgreSQL", status["postgres"]),
            ("RabbitMQ", status["rabbitmq"]),
            ("Redis", status["redis"]),
        ),
        strict=True,
    ):
        latency = service.get("latencia_ms")
        col.metric(
            name,
            HEALTH_LABELS.get(service["status"], service["status"]),
            border=True,
            help=service.get("detalhe"),
        )
        col.caption(
            service.get("detalhe") or (f"{fmt.decimal(latency)} ms" if latency is not None else "")
        )
    st.markdown("**Filas**")
    st.dataframe(
        pd.DataFrame(
            {
                "Fila": [q["fila"] for q in status["filas"]],
                "Mensagens": [q["mensagens"] for q in status["filas"]],
                "Consumidores": [q["consumidores"] for q in status["filas"]],
                "Na DLQ": [q["dead_letter"] for q in status["filas"]],
            },
        ),
        hide_index=True,
        width="stretch",
    )
    cache = _load("Cache", operations.cache_status)
    if cache:
        hit_rate = cache.get("taxa_acerto")
        st.caption(
            f"Cache: {HEALTH_LABELS.get(cache['status'], cache['status'])} · taxa de acerto "
            f"{fmt.percentual(hit_rate) if hit_rate is not None else '—'} · {fmt.inteiro(cache['chaves'])} chaves · "
            f"memória {cache.get('memoria_usada') or '—'}"
        )


tabs = st.tabs(
    [
        "Tarefas",
        "Relatório diário",
        "Check-ins em lote",
        "Aluno sintético",
        "Usuários",
        "Quiosques",
        "Auditoria",
        "Sistema",
    ]
)
with tabs[0]:
    jobs_tab()
with tabs[1]:
    report_tab()
with tabs[2]:
    checkin_upload.render(down)
with tabs[3]:
    synthetic_tab()
with tabs[4]:
    users_tab()
with tabs[5]:
    devices_tab()
with tabs[6]:
    audit_log.render(down)
with tabs[7]:
    status_tab()
with progress_area:
    job_progress.live_panel()
