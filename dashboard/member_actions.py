"""Front-desk actions on one member (Aluno and Recepção pages), sent to the API with the user's
token: the API decides who may do what and answers 404/409 for a wrong member or state."""

import uuid

import streamlit as st

from dashboard import auth, ui

DESK_ROLES = ("admin", "recepcao")
DONE_KEY = "acao_concluida"


def render(aluno_id: int, ativo: bool, user: auth.User) -> None:
    if user.role not in DESK_ROLES:
        return
    down = ui.api_down_reason()
    st.subheader("Ações")
    if done := st.session_state.pop(DONE_KEY, None):
        st.success(done)
    if down:
        st.warning(down)
    entry, exit_, status = st.columns([1, 1, 2])
    if entry.button(
        "Registrar entrada",
        key="acao_entrada",
        disabled=bool(down) or not ativo,
        help=down or ("Aluno inativo" if not ativo else None),
        icon=":material/login:",
    ):
        _checkin(aluno_id, "entrada")
    if exit_.button(
        "Registrar saída",
        key="acao_saida",
        disabled=bool(down) or not ativo,
        help=down or ("Aluno inativo" if not ativo else None),
        icon=":material/logout:",
    ):
        _checkin(aluno_id, "saida")
    with status:
        motivo = st.text_input("Motivo (opcional)", key="acao_motivo", max_chars=500)
        label, path, done = (
            ("Desativar aluno", "desativar", "Aluno desativado.")
            if ativo
            else ("Reativar aluno", "ativar", "Aluno reativado.")
        )
        if st.button(label, key="acao_status", disabled=bool(down), help=down):
            body = {"motivo": motivo} if motivo.strip() else None
            if ui.run_action(
                "Enviando…",
                lambda: auth.call("PATCH", f"/aluno/{aluno_id}/{path}", json=body),
                done,
            ):
                st.cache_data.clear()  # the member's state changed for every page
                # Drawn again from the new state (the profile above was read before the click).
                st.session_state[DONE_KEY] = done
                st.rerun()


def _checkin(aluno_id: int, tipo: str) -> None:
    # The id is fixed per click, so a retried request is the same check-in (the API dedupes).
    body = {"aluno_id": aluno_id, "tipo": tipo, "checkin_id": str(uuid.uuid4())}
    ui.run_action(
        "Enviando…",
        lambda: auth.call("POST", "/aluno/checkin", json=body),
        f"{'Entrada' if tipo == 'entrada' else 'Saída'} registrada: o check-in entra na fila e "
        "aparece no histórico em instantes.",
    )
