"""Recepção (admin, recepcao): find a member by name or ID, register an entry or exit, activate
or deactivate, and see the member's check-ins of today. The actions go to the API with the user's
token (dashboard/member_actions.py); the member and today's check-ins are read-only SQL."""

from datetime import datetime

import streamlit as st

from dashboard import member_actions, member_picker, ui
from dashboard.data import member
from dashboard.data.clients import settings

user = ui.page("recepcao")
tz = settings().tz


aluno_id = member_picker.pick("recepcao")
if aluno_id is None:
    st.info("Digite parte do nome ou o ID do aluno.")
    st.stop()
profile = member.profile(aluno_id)
if profile is None:
    st.error(f"Não há aluno com o ID {aluno_id}.")
    st.stop()

st.header(f"{profile.nome} · #{profile.aluno_id}")
cols = st.columns(3)
cols[0].metric("Situação", "ativo" if profile.ativo else "inativo", border=True)
cols[1].metric("Plano", profile.plano, border=True)
cols[2].metric("Matrícula", profile.data_matricula.strftime("%d/%m/%Y"), border=True)
if not profile.ativo:
    st.caption("Aluno inativo: reative-o para registrar entradas e saídas.")

member_actions.render(aluno_id, profile.ativo, user)

st.subheader("Check-ins de hoje")
today = datetime.now(tz).date()
visits = member.visits(aluno_id, days=1)
todays = visits[visits["ocorrido_em"].dt.date == today]
if todays.empty:
    st.info("Nenhum check-in hoje.")
else:
    st.dataframe(
        todays.sort_values("ocorrido_em", ascending=False).assign(
            placeholder="—",
            ocorrido_em=lambda d: d["ocorrido_em"].dt.strftime("%H:%M:%S"),
            tipo=lambda d: d["tipo"].map({"entrada": "entrada", "saida": "saída"}),
        ),
        hide_index=True,
        width="stretch",
        column_config={"ocorrido_em": "Hora", "tipo": "Tipo", "origem": "Origem"},
    )
st.caption(
    "Um check-in registrado aqui entra na fila e aparece nesta lista quando é gravado no banco "
    "(em instantes)."
)
