"""Modelo: which model scores the members, how it did on held-out data against the recent
versions and the baselines, and whether today's scores look like the ones it was trained for."""

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import format as fmt
from dashboard import ui
from dashboard.data import model
from dashboard.data.clients import settings
from dashboard.data.sql import DataUnavailable


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

latest = recent[0]  # newest version first
if latest.gate is not None:
    promoted, reason = latest.gate
    verdict = "promovida a campeã" if promoted else "não promovida: a campeã continua"
    (st.success if promoted else st.warning)(
        f"Último treino (v{latest.version}, {fmt.data_hora(latest.trained_at, tz)}): {verdict}. "
        f"Portão de promoção: {reason}",
        icon=":material/verified:" if promoted else ":material/block:",
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
    "Os modelos de base (regressão logística, regra de inatividade e gradient boosting) são "
    "medidos nos mesmos dados fora do tempo da versão campeã."
)
sizes = {
    f"v{v.version}": {label: v.tags.get(tag) for tag, label in model.SIZES.items()}
    | {
        "Treinado em": fmt.data_hora(v.trained_at, tz),
        "Dados até": _day(v.as_of),
        "Promoção": v.gate[1] if v.gate is not None else (v.promotion_reason or v.promotion),
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


def _compared(psi_rows: pd.DataFrame) -> str:
    """What the night compared, in words: the features' whole-day snapshot against the training
    weeks, the night's scores against the version's first batch."""
    first = psi_rows.iloc[0]
    features = psi_rows[psi_rows["variavel"] != "score"]["data_populacao"].dropna()
    score = psi_rows[psi_rows["variavel"] == "score"]["data_base"].dropna()
    parts = [f"Noite de {fmt.data(first['data_referencia'])}, v{first['modelo_versao']}."]
    if not features.empty:
        parts.append(
            f"Variáveis: os alunos do domingo {fmt.data(features.iloc[0])} (o último dia "
            "completo, como os domingos do treino) contra as últimas semanas rotuladas do treino."
        )
    if not score.empty:
        parts.append(
            f"Risco (`score`): o lote da noite contra o primeiro lote desta versão "
            f"({fmt.data(score.iloc[0])})."
        )
    parts.append(f"A linha tracejada é {fmt.decimal(model.PSI_ALERT)}.")
    return " ".join(parts)


st.subheader("Monitoramento: deriva e calibração")
psi_rows: pd.DataFrame | None = None
realised: pd.DataFrame | None = None
try:
    psi_rows, realised = model.drift(name), model.calibration(name)
except DataUnavailable as exc:  # the monitor's tables not migrated yet
    st.error(str(exc))
if psi_rows is not None and psi_rows.empty:
    st.info("O monitor ainda não rodou para este modelo: ele roda toda noite, depois da pontuação.")
elif psi_rows is not None:
    drifted = psi_rows[psi_rows["alerta"]]
    if not drifted.empty:
        st.warning(
            f"PSI acima de {fmt.decimal(model.PSI_ALERT)}: "
            + ", ".join(
                f"{v} ({fmt.decimal(p, 2)})"
                for v, p in zip(drifted["variavel"], drifted["psi"], strict=True)
            )
            + " — a população se afastou da referência (veja abaixo o que foi comparado)."
        )
    line = (
        alt.Chart(pd.DataFrame({"limite": [model.PSI_ALERT]}))
        .mark_rule(strokeDash=[6, 4], color="gray")
        .encode(x="limite:Q")
    )
    bars = (
        alt.Chart(psi_rows)
        .mark_bar()
        .encode(
            x=alt.X("psi:Q", title="PSI contra a referência"),
            y=alt.Y("variavel:N", title=None, sort="-x"),
            color=alt.Color(
                "alerta:N",
                title="Acima de 0,2",
                scale=alt.Scale(domain=[False, True], range=["#4c9f70", "#d1495b"]),
            ),
            tooltip=[
                alt.Tooltip("variavel:N", title="Variável"),
                alt.Tooltip("psi:Q", title="PSI", format=".3f"),
            ],
        )
    )
    st.altair_chart(alt.layer(bars, line), width="stretch", key="monitor_psi")
    st.caption(_compared(psi_rows))
if realised is not None and realised.empty:
    st.info(
        "Ainda não há data pontuada com os 30 dias encerrados: o realizado × previsto aparece "
        "30 dias depois do primeiro lote."
    )
elif realised is not None:
    off = realised[realised["alerta"]]
    if not off.empty:
        st.warning(
            f"Diferença acima de {fmt.decimal(model.GAP_ALERT_PP, 0)} pontos entre o cancelamento "
            "realizado e o previsto em: "
            + ", ".join(
                f"{m:%m/%Y} ({t})" for m, t in zip(off["mes"], off["faixa_risco"], strict=True)
            )
        )
    series = realised.melt(
        id_vars=["mes", "faixa_risco", "alerta", "diferenca_pp"],
        value_vars=["prevista", "realizada"],
        var_name="serie",
        value_name="taxa",
    )
    st.altair_chart(
        alt.Chart(series)
        .mark_line(point=True)
        .encode(
            x=alt.X("mes:T", title="Mês da pontuação", axis=alt.Axis(format="%m/%Y")),
            y=alt.Y("taxa:Q", title="Cancelamento em 30 dias", axis=alt.Axis(format="%")),
            color=alt.Color("serie:N", title=None),
            tooltip=[
                alt.Tooltip("mes:T", title="Mês", format="%m/%Y"),
                alt.Tooltip("serie:N", title="Série"),
                alt.Tooltip("taxa:Q", title="Taxa", format=".1%"),
                alt.Tooltip("diferenca_pp:Q", title="Diferença (p.p.)", format=".1f"),
                alt.Tooltip("alerta:N", title="Acima de 2 p.p."),
            ],
        )
        .properties(width=170, height=180)
        .facet(
            column=alt.Column("faixa_risco:N", title=None, sort=["todas", "alto", "medio", "baixo"])
        ),
        key="monitor_calibracao",
    )
    st.dataframe(
        realised.assign(
            mes=[f"{m:%m/%Y}" for m in realised["mes"]],
            prevista=[fmt.percentual(v) for v in realised["prevista"]],
            realizada=[fmt.percentual(v) for v in realised["realizada"]],
            diferenca_pp=[fmt.decimal(v) for v in realised["diferenca_pp"]],
            alerta=["⚠ acima de 2 p.p." if a else "" for a in realised["alerta"]],
        )[["mes", "faixa_risco", "pontuacoes", "prevista", "realizada", "diferenca_pp", "alerta"]],
        hide_index=True,
        column_config={
            "mes": "Mês",
            "faixa_risco": "Faixa",
            "pontuacoes": "Alunos pontuados",
            "prevista": "Prevista",
            "realizada": "Realizada",
            "diferenca_pp": "Diferença (p.p.)",
            "alerta": "Alerta",
        },
        key="monitor_calibracao_tabela",
    )
    st.caption(
        "Para cada data pontuada cujos 30 dias já se encerraram: a probabilidade média prevista "
        "contra a parcela dos alunos que de fato cancelou, por mês e faixa de risco."
    )

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
