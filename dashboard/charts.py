"""Altair charts the pages share, labelled in pt-BR."""

import altair as alt
import pandas as pd

TIER_COLORS = alt.Scale(domain=["baixo", "medio", "alto"], range=["#4c9f70", "#e0a526", "#d1495b"])


def line_with_benchmark(
    data: pd.DataFrame, x: str, y: str, title: str, benchmark: float, benchmark_label: str
) -> alt.LayerChart | alt.FacetChart:
    """A monthly rate with a dashed reference line (the IHRSA figure)."""
    base = alt.Chart(data).encode(x=alt.X(f"{x}:T", title="Mês", axis=alt.Axis(format="%m/%Y")))
    line = base.mark_line(point=True).encode(
        y=alt.Y(f"{y}:Q", title=title, axis=alt.Axis(format=".1%")),
        tooltip=[
            alt.Tooltip(f"{x}:T", title="Mês", format="%m/%Y"),
            alt.Tooltip(f"{y}:Q", title=title, format=".1%"),
        ],
    )
    rule = (
        alt.Chart(pd.DataFrame({"y": [benchmark], "rotulo": [benchmark_label]}))
        .mark_rule(strokeDash=[6, 4], color="gray")
        .encode(y="y:Q", tooltip=alt.Tooltip("rotulo:N", title="Referência"))
    )
    return alt.layer(line, rule)
