"""Modelo: which model scores the members, how it did on held-out data against the recent
versions and the baselines, and whether today's scores look like the ones it was trained for."""

from datetime import date

import altair as alt
import streamlit as st

from dashboard import format as fmt
from dashboard import ui
from dashboard.data import model
from dashboard.data.clients import settings


def _day(iso: str | None) -> str:
    """A date the run tagged (ISO) as a Brazilian reader writes it."""
    return fmt.data(date.fromisoformat(iso)) if iso else "—"


ui.page("modelo")
tz = settings().tz
name = settings().churn_model_name
try:
    recent = model.versions(name)
except model.RegistryUnavailable as exc:
    st.error(str(exc))
    st.stop()
champion = next((v for v in recent if v.champion), None)
if champion is None:
    st.info(
        f"Ainda não há modelo campeão registrado ({name}): rode o pipeline de treino "
        "(Operações → Retreinar modelo ou `gympulse churn train`)."
    )
    st.stop()

with st.container(horizontal=True, key="campeao"):
    st.metric("Versão campeã", f"v{champion.version}", border=True)
    for metric in ("roc_auc", "pr_auc", "lift_top10"):
        value = champion.metrics.get(metric)
        st.metric(model.METRICS[metric], fmt.decimal(value, 3), border=True)
    st.metric("Treinado em", fmt.data_hora(champion.trained_at, tz), border=True)
st.caption(
    f"Dados até {_day(champion.as_of)}; avaliado fora do tempo de "
    f"{_day(champion.tags.get('held_out_from'))} a {_day(champion.tags.get('held_out_to'))} "
    f"(treino com rótulos até {_day(champion.tags.get('train_to'))})."
)

st.subheader("Versões recentes e modelos de base")
comparison = model.comparison(recent)
for label in model.METRICS.values():  # Brazilian decimals; a handful of rows need no sorting
    if label in comparison:
        comparison[label] = [fmt.decimal(v, 3) for v in comparison[label]]
st.dataframe(
    comparison,
    hide_index=True,
    column_config={"modelo": st.column_config.TextColumn("Modelo")},
    placeholder="—",
    key="comparacao_modelos",
)
st.caption(
    "Os modelos de base (regressão logística e a regra de inatividade) são medidos nos mesmos "
    "dados fora do tempo da versão campeã."
)
sizes = {
    f"v{v.version}": {label: v.tags.get(tag) for tag, label in model.SIZES.items()}
    | {
        "Treinado em": fmt.data_hora(v.trained_at, tz),
        "Dados até": _day(v.as_of),
        "Promoção": v.promotion_reason or v.promotion,
    }
    for v in recent
}
with st.expander("Datas, tamanhos dos dados e decisão de promoção"):
    st.dataframe(sizes, key="tamanhos")

st.subheader("Gráficos da avaliação")
others = [v for v in recent if not v.champion]
shown = [champion]
if others:
    labels = {v.version: f"v{v.version}" for v in others}
    challenger = st.selectbox(
        "Comparar com", list(labels), format_func=labels.__getitem__, key="desafiante"
    )
    shown.append(next(v for v in others if v.version == challenger))
for tab, (path, title) in zip(
    st.tabs(list(model.PLOTS.values())), model.PLOTS.items(), strict=True
):
    with tab:
        for column, version in zip(st.columns(len(shown)), shown, strict=True):
            with column:
                image = model.figure(version.run_id, path)
                caption = f"{title} · v{version.version}" + (
                    " (campeão)" if version.champion else ""
                )
                if image is None:
                    st.caption(f"{caption}: a execução não registrou este gráfico.")
                else:
                    st.image(image, caption=caption, width="stretch")

st.subheader("Distribuição dos riscos: hoje × treino")
bins = model.score_histograms(champion.version, champion.as_of)
if bins.empty:
    st.info("Ainda não há riscos calculados.")
    st.stop()
names = {
    "hoje": "hoje (alunos ativos)",
    "treino": f"1º lote de v{champion.version} em {_day(champion.as_of)}",
}
st.altair_chart(
    alt.Chart(bins.assign(lote=bins["lote"].map(names)))
    .mark_bar(opacity=0.6, binSpacing=0)
    .encode(
        x=alt.X(
            "faixa_inicio:Q",
            title="Probabilidade de cancelar em 30 dias",
            bin="binned",
            axis=alt.Axis(format="%"),
        ),
        x2="faixa_fim:Q",
        y=alt.Y("parcela:Q", title="Parcela dos alunos", stack=None, axis=alt.Axis(format="%")),
        color=alt.Color("lote:N", title=None),
        tooltip=[
            alt.Tooltip("lote:N", title="Lote"),
            alt.Tooltip("faixa_inicio:Q", title="A partir de", format=".0%"),
            alt.Tooltip("alunos:Q", title="Alunos"),
            alt.Tooltip("parcela:Q", title="Parcela", format=".1%"),
        ],
    )
    .transform_calculate(faixa_fim=f"datum.faixa_inicio + {1 / model.SCORE_BINS}"),
    width="stretch",
    key="distribuicao_riscos",
)
if "treino" not in set(bins["lote"]):
    st.caption(
        f"Não há lote da v{champion.version} na data de referência do treino ({_day(champion.as_of)}): "
        "só a distribuição de hoje aparece."
    )
else:
    st.caption(
        "O MLflow não guarda a distribuição dos riscos do treino: a referência é o primeiro lote "
        f"calculado pela v{champion.version} na data de referência do treino ({_day(champion.as_of)})."
    )
