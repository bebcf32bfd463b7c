"""Finding a member by name or ID (Aluno and Recepção pages)."""

import streamlit as st

from dashboard.data import member


def pick(key: str, default: int | None = None) -> int | None:
    """The member typed (an ID) or chosen among the names that match; `default` when the box is
    empty (e.g. the member the URL names)."""
    text = st.text_input(
        "Buscar aluno por nome ou ID", key=f"{key}_busca", placeholder="Ex.: Maria ou 42"
    ).strip()
    if text.isdigit():
        return int(text)
    if not text:
        return default
    found = member.search(text)
    if found.empty:
        st.info("Nenhum aluno com esse nome.")
        return None
    labels = {
        int(r["aluno_id"]): f"{r['nome']} (#{r['aluno_id']}){'' if r['ativo'] else ' · inativo'}"
        for r in found.to_dict("records")
    }
    return st.selectbox("Aluno", list(labels), format_func=labels.__getitem__, key=f"{key}_aluno")
