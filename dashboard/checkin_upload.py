"""Check-ins from a CSV (Operações): read every row first, send the good ones to the bulk route
in batches with a progress bar, and name each refused row by its line in the file."""

import pandas as pd
import streamlit as st

from dashboard import format as fmt
from dashboard.data import operations
from dashboard.data.clients import settings
from dashboard.data.operations import BULK_MAX_EVENTS, RefusedRow, UploadResult

RESULT_KEY = "ops_csv_resultado"  # (uploaded file id, UploadResult): survives reruns


def _refused_table(rows: list[RefusedRow]) -> None:
    st.dataframe(
        pd.DataFrame(
            {
                "Linha": [r.line for r in rows],
                "aluno_id": [r.aluno_id for r in rows],
                "Motivo": [r.motivo for r in rows],
            }
        ).sort_values("Linha"),
        hide_index=True,
        width="stretch",
    )


def _show(result: UploadResult, unread: list[RefusedRow]) -> None:
    refused = unread + result.refused
    if result.accepted:
        st.success(
            f"{fmt.inteiro(result.accepted)} check-ins aceitos pela API: entram na fila e chegam "
            "ao banco em instantes."
        )
    if result.stopped:
        st.error(
            f"O envio parou em {result.stopped}. Envie o arquivo de novo: o que já foi aceito "
            "não é duplicado (cada linha tem o mesmo checkin_id a cada envio)."
        )
    if refused:
        st.warning(f"{fmt.inteiro(len(refused))} linhas recusadas:")
        _refused_table(refused)


def render(down: str | None) -> None:
    tz = settings().tz
    st.caption(
        "Colunas: aluno_id, tipo (entrada ou saida), ocorrido_em e, se houver, checkin_id; "
        f"cabeçalho na primeira linha, separadas por vírgula ou ponto e vírgula. Horários sem fuso "
        f"são lidos no fuso da academia ({tz.key}). Envio em lotes de até "
        f"{fmt.inteiro(BULK_MAX_EVENTS)} eventos."
    )
    uploaded = st.file_uploader("Arquivo CSV de check-ins", type=["csv", "txt"], key="csv_checkins")
    if uploaded is None:
        return
    parsed = operations.parse_checkins_csv(uploaded.getvalue(), tz)
    if parsed.error:
        st.error(parsed.error)
        return
    st.markdown(
        f"**{fmt.inteiro(len(parsed.rows))}** linhas prontas para enviar"
        + (
            f", **{fmt.inteiro(len(parsed.refused))}** que não puderam ser lidas."
            if parsed.refused
            else "."
        )
    )
    sent = st.session_state.get(RESULT_KEY)
    if st.button(
        f"Enviar {fmt.inteiro(len(parsed.rows))} check-ins",
        key="csv_enviar",
        disabled=bool(down) or not parsed.rows,
        help=down,
        type="primary",
    ):
        bar = st.progress(0.0, text="Enviando…")

        def advance(done: int, total: int) -> None:
            bar.progress(
                done / total, text=f"{fmt.inteiro(done)} de {fmt.inteiro(total)} linhas enviadas"
            )

        result = operations.send_checkins(parsed.rows, advance)
        sent = (uploaded.file_id, result)
        st.session_state[RESULT_KEY] = sent
    if sent and sent[0] == uploaded.file_id:
        _show(sent[1], parsed.refused)
    elif parsed.refused:
        st.warning("Linhas que não puderam ser lidas (não serão enviadas):")
        _refused_table(parsed.refused)
