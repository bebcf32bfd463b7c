"""The daily attendance report of one gym-local day, from the application tables.

`generate_daily_report(engine, dia, tz=..., warehouse_schema=...)` reads the day from
`checkins`, `alunos`, `planos` and `previsoes_churn` (not the dbt warehouse, so a report asked
for today is current), pairs the day's check-ins into visits with the shared rule in
`sql/pair_visits.sql` (the same visits as `GET /aluno/{id}/frequencia` and the warehouse count),
and stores one row per day in `relatorios_diarios` (generating a day again replaces its row):
`resumo` (JSON), `csv` and `html`. It returns the `resumo`. The totals of visits are defined
once, for this report and the warehouse's `fct_attendance_daily`, in `sql/attendance_totals.sql`.
The month's member movement (members at the start, joins, cancellations, the IHRSA churn rate
and the 12-month retention) is read from the warehouse mart `mart_member_movement_monthly`, the
one definition the dashboard reads too; the HTML says so when the warehouse was not built yet.

Synthetic students (aluno_ref `SINT-…`, made to try the model) are in no table or count.

What counts for the day `dia` (gym time zone `tz`, from 00:00 to 24:00 local):
- a visit counts on the day, and in the hour, its entry happened; its exit may be after
  midnight. Exits with no entry (`saida_sem_entrada`) count on the day of the exit;
- `eventos_checkin`: raw check-in events (entries and exits, double taps included) that day;
- `visitas_sem_saida`: visits with no exit within 6 hours; for today, also visits in progress;
- `duracao_media_minutos`: over the visits with an exit;
- by hour, `alunos` is the distinct members who started a visit in that hour;
- by plan, the member's current plan; every active plan is listed, with zeros;
- `novos_alto_risco` (and the section `alto_risco`): members whose latest churn score as of
  that day (`data_referencia`) is `alto` while their latest score as of an earlier day was not
  `alto`, or did not exist.

`resumo` (JSON, round-trips through JSONB unchanged)::

    {"data": "2026-11-27", "fuso_horario": "America/Sao_Paulo",
     "totais": {"eventos_checkin", "visitas", "alunos_presentes", "duracao_media_minutos",
                "visitas_sem_saida", "saidas_sem_entrada", "novos_alto_risco"},
     "por_hora": [{"hora": 0..23, "visitas", "alunos"}, ...24 rows],
     "por_plano": [{"plano_id", "plano", "visitas", "alunos"}, ...]}

CSV layout: one table (RFC 4180, comma-separated, UTF-8 without BOM, `.` as decimal point,
times ISO 8601 in gym time with their offset). Every row has the same columns; `secao` says
which part of the report the row belongs to, so a spreadsheet filter on `secao` gives each
table, and the CSVs of several days can be concatenated (the `data` column tells them apart)::

    data,secao,chave,valor,visitas,alunos,plano,aluno_id,aluno_ref,nome,primeira_entrada,
    ultima_saida,minutos,faixa_anterior,modelo_nome,modelo_versao,fatores

    secao       chave                  columns filled
    total       name of the total      valor (the total; empty when undefined, e.g. no
                (eventos_checkin, ...)  duration without visits)
    hora        hour 0..23 (gym time)  visitas (started that hour), alunos
    plano       plano_id               plano, visitas, alunos
    presente    aluno_id               aluno_id, aluno_ref, nome, plano, visitas,
                                       primeira_entrada, ultima_saida, minutos
    alto_risco  aluno_id               valor (churn probability 0..1), aluno_id, aluno_ref,
                                       nome, plano, faixa_anterior (empty: first score),
                                       modelo_nome, modelo_versao, fatores (" | "-separated)

Free text (names, references, plans, factors) that starts with `=`, `+`, `-`, `@`, tab or
carriage return is prefixed with `'`, so a spreadsheet shows it as text instead of running it
as a formula.

HTML: a self-contained page (inline CSS, an inline SVG chart of visits by hour and HTML bars of
visits by plan, no JavaScript, no external assets); every value from the database is escaped
(Jinja autoescape). A report of today says the day is in progress and up to what time it has
data; the members-present list is folded (`<details>`); the risk tiers are explained with the
probabilities of the day's scores in each tier (the thresholds belong to the model).
"""

import csv
import io
import json
import textwrap
import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import Engine, text

from serving.visits import EDGE, pair_visits_sql, render_macro
from serving.vocabulary import RISK_TIERS

TEMPLATES_DIR = Path(__file__).parent / "templates"
CSV_COLUMNS = (
    "data",
    "secao",
    "chave",
    "valor",
    "visitas",
    "alunos",
    "plano",
    "aluno_id",
    "aluno_ref",
    "nome",
    "primeira_entrada",
    "ultima_saida",
    "minutos",
    "faixa_anterior",
    "modelo_nome",
    "modelo_versao",
    "fatores",
)
TOTALS = (
    "eventos_checkin",
    "visitas",
    "alunos_presentes",
    "duracao_media_minutos",
    "visitas_sem_saida",
    "saidas_sem_entrada",
    "novos_alto_risco",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

MONTHS = (
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
)
TIER_LABELS = {"alto": "alto", "medio": "médio", "baixo": "baixo"}
# IHRSA (One Million Strong): 33.6 cancellations per 1,000 members a month; 67 % of members
# keep their membership 12 months.
BENCHMARK_MONTHLY_CHURN = 0.034
BENCHMARK_RETENTION_12M = 0.67

Progress = Callable[[float, str], None]

# Synthetic students (serving/simulator/student.py) try the model; they are not the gym's
# members. `aluno_sintetico` (migration 0006) is the rule, for dbt and the dashboard too.
GYM_MEMBER = "aluno_id not in (select id from alunos where aluno_sintetico(aluno_ref))"

DAY_EVENTS = f"""(
    select checkin_id, aluno_id, tipo, ocorrido_em
    from checkins
    where ocorrido_em >= :leitura_inicio and ocorrido_em < :leitura_fim and {GYM_MEMBER}
) as eventos_do_dia"""

# The day's visits (and orphan exits), paired once and kept for the transaction.
CREATE_VISITS_SQL = """
create temporary table rel_visitas (
    evento text not null,
    visita_id uuid not null,
    aluno_id bigint not null,
    entrada timestamptz,
    saida timestamptz,
    duracao_minutos numeric
) on commit drop
"""

FILL_VISITS_SQL = f"""
insert into rel_visitas (evento, visita_id, aluno_id, entrada, saida, duracao_minutos)
with pareado as ({pair_visits_sql(DAY_EVENTS)})
select evento, visita_id, aluno_id, entrada, saida, duracao_minutos
from pareado
where coalesce(entrada, saida) >= :inicio and coalesce(entrada, saida) < :fim
"""

# The day's totals as the warehouse's fct_attendance_daily defines them (one macro for both,
# sql/attendance_totals.sql), over the day's visits read live; eventos_checkin is the report's own.
TOTALS_SQL = f"""
select
    (
        select count(*) from checkins
        where ocorrido_em >= :inicio and ocorrido_em < :fim and {GYM_MEMBER}
    ) as eventos_checkin,
    totais.count_visitas as visitas,
    totais.count_alunos_distintos as alunos_presentes,
    totais.duracao_media_minutos,
    totais.count_visitas_sem_saida as visitas_sem_saida,
    totais.count_saidas_sem_entrada as saidas_sem_entrada
from (
    select
{textwrap.indent(render_macro("attendance_totals"), " " * 8)}
    from rel_visitas
) as totais
"""

BY_HOUR_SQL = """
with por_hora as (
    select
        cast(extract(hour from entrada at time zone :tz) as integer) as hora,
        count(*) as visitas,
        count(distinct aluno_id) as alunos
    from rel_visitas
    where evento = 'visita'
    group by 1
)
select h.hora, coalesce(p.visitas, 0) as visitas, coalesce(p.alunos, 0) as alunos
from generate_series(0, 23) as h (hora)
left join por_hora as p on p.hora = h.hora
order by h.hora
"""

BY_PLAN_SQL = """
with por_plano as (
    select a.plano_id, count(*) as visitas, count(distinct v.aluno_id) as alunos
    from rel_visitas as v
    join alunos as a on a.id = v.aluno_id
    where v.evento = 'visita'
    group by a.plano_id
)
select
    pl.id as plano_id,
    pl.nome as plano,
    coalesce(pp.visitas, 0) as visitas,
    coalesce(pp.alunos, 0) as alunos
from planos as pl
left join por_plano as pp on pp.plano_id = pl.id
where pl.ativo or pp.plano_id is not null
order by visitas desc, pl.nome
"""

PRESENT_SQL = """
with por_aluno as (
    select
        aluno_id,
        count(*) as visitas,
        min(entrada) as primeira_entrada,
        max(saida) as ultima_saida,
        sum(duracao_minutos) as minutos
    from rel_visitas
    where evento = 'visita'
    group by aluno_id
)
select
    v.aluno_id,
    a.aluno_ref,
    a.nome,
    pl.nome as plano,
    v.visitas,
    v.primeira_entrada,
    v.ultima_saida,
    v.minutos
from por_aluno as v
join alunos as a on a.id = v.aluno_id
join planos as pl on pl.id = a.plano_id
order by lower(a.nome), v.aluno_id
"""

# Latest score as of the day per member; for those `alto`, the latest score as of an earlier day.
# By as-of date, not by when it was computed: a backtest's report for a past day is right too.
NEW_HIGH_RISK_SQL = f"""
with do_dia as (
    select aluno_id, probabilidade, faixa_risco, modelo_nome, modelo_versao, fatores
    from previsoes_vigentes(:dia)
    where data_referencia = :dia and {GYM_MEMBER}
)
select
    d.aluno_id,
    a.aluno_ref,
    a.nome,
    pl.nome as plano,
    d.probabilidade,
    d.modelo_nome,
    d.modelo_versao,
    d.fatores,
    anterior.faixa_risco as faixa_anterior,
    anterior.probabilidade as probabilidade_anterior
from do_dia as d
join alunos as a on a.id = d.aluno_id
join planos as pl on pl.id = a.plano_id
left join lateral (
    select p.faixa_risco, p.probabilidade
    from previsoes_vigentes(cast(:dia as date) - 1) as p
    where p.aluno_id = d.aluno_id
) as anterior on true
where d.faixa_risco = 'alto' and (anterior.faixa_risco is null or anterior.faixa_risco <> 'alto')
order by d.probabilidade desc, d.aluno_id
"""

# The tiers of the day's latest batch as its scores show them: the thresholds live with the
# model in MLflow, so the report states the probabilities it actually put in each tier.
TIER_RANGES_SQL = f"""
select
    modelo_nome,
    modelo_versao,
    faixa_risco,
    count(*) as alunos,
    min(probabilidade) as minima,
    max(probabilidade) as maxima
from previsoes_vigentes(:dia)
where
    {GYM_MEMBER}
    and data_referencia = (select max(data_referencia) from previsoes_churn
                           where data_referencia <= :dia)
group by modelo_nome, modelo_versao, faixa_risco
order by modelo_nome, modelo_versao
"""

# The report's month and the month before, as the warehouse mart counts them.
MOVEMENT_COLUMNS = (
    "mes",
    "data_fim_medicao",
    "is_mes_completo",
    "ativos_inicio",
    "matriculas",
    "reativacoes",
    "cancelamentos",
    "ativos_fim",
    "taxa_churn_mensal",
    "retencao_12m",
)
MOVEMENT_MART = "mart_member_movement_monthly"

UPSERT_SQL = """
insert into relatorios_diarios (data, gerado_em, job_id, resumo, csv, html)
values (:data, :gerado_em, :job_id, cast(:resumo as jsonb), :csv, :html)
on conflict (data) do update set
    gerado_em = excluded.gerado_em,
    job_id = excluded.job_id,
    resumo = excluded.resumo,
    csv = excluded.csv,
    html = excluded.html
"""


def day_bounds(dia: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Start and (exclusive) end of the gym-local day."""
    return (
        datetime.combine(dia, time.min, tz),
        datetime.combine(dia + timedelta(days=1), time.min, tz),
    )


def generate_daily_report(
    engine: Engine,
    dia: date,
    *,
    tz: ZoneInfo,
    warehouse_schema: str,
    job_id: uuid.UUID | None = None,
    progress: Progress | None = None,
) -> dict:
    """Compute the report of the gym-local day `dia`, store it in `relatorios_diarios`
    (replacing that day's previous report) and return its `resumo`. The month's movement KPIs
    come from the dbt mart in `warehouse_schema`."""

    def step(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction, message)

    lido_em = datetime.now(tz)
    day = _read_day(engine, dia, tz, warehouse_schema, step)
    resumo = _summary(dia, tz, day)
    present = [_present_row(r, tz) for r in day["present"]]
    high_risk = [_high_risk_row(r) for r in day["high_risk"]]
    gerado_em = datetime.now(tz)
    csv_text = render_csv(resumo, present, high_risk)
    html = render_html(
        resumo,
        present,
        high_risk,
        gerado_em=gerado_em,
        tz=tz,
        dados_ate=lido_em if dia == lido_em.date() else None,
        movimento=day["movement"],
        faixas=day["tiers"],
    )
    step(0.85, "CSV e HTML gerados")
    with engine.begin() as conn:
        conn.execute(
            text(UPSERT_SQL),
            {
                "data": dia,
                "gerado_em": gerado_em,
                "job_id": job_id,
                "resumo": json.dumps(resumo, ensure_ascii=False),
                "csv": csv_text,
                "html": html,
            },
        )
    step(1.0, f"relatório de {dia.isoformat()} gravado")
    return resumo


def _read_day(
    engine: Engine, dia: date, tz: ZoneInfo, warehouse_schema: str, step: Progress
) -> dict[str, Any]:
    """Every query of the report, in one snapshot, so the totals and the lists agree."""
    inicio, fim = day_bounds(dia, tz)
    params = {
        "inicio": inicio,
        "fim": fim,
        "leitura_inicio": inicio - EDGE,
        "leitura_fim": fim + EDGE,
        "tz": str(tz),
        "dia": dia,
    }

    def rows(sql: str) -> list[dict[str, Any]]:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]

    step(0.0, f"lendo as visitas de {dia.isoformat()}")
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(text(CREATE_VISITS_SQL))
            conn.execute(text(FILL_VISITS_SQL), params)
            conn.execute(text("analyze rel_visitas"))
            step(0.3, "visitas pareadas")
            day: dict[str, Any] = {
                "totals": rows(TOTALS_SQL)[0],
                "by_hour": rows(BY_HOUR_SQL),
                "by_plan": rows(BY_PLAN_SQL),
            }
            step(0.5, "totais calculados")
            day["present"] = rows(PRESENT_SQL)
            step(0.6, f"{len(day['present'])} alunos presentes")
            day["high_risk"] = rows(NEW_HIGH_RISK_SQL)
            step(0.7, f"{len(day['high_risk'])} alunos passaram a alto risco")
            day["tiers"] = rows(TIER_RANGES_SQL)
            day["movement"] = _movement(conn, warehouse_schema, dia)
            step(0.8, "movimento do mês lido do warehouse")
    return day


def _movement(conn: Any, schema: str, dia: date) -> list[dict[str, Any]] | None:
    """The mart's rows of the report's month and the month before (newest first), or None when
    the warehouse was never built in `schema`."""
    relation = f"{schema}.{MOVEMENT_MART}"
    if conn.execute(text("select to_regclass(:relation)"), {"relation": relation}).scalar() is None:
        return None
    sql = (
        f"select {', '.join(MOVEMENT_COLUMNS)} from {relation} "
        "where mes <= :mes order by mes desc limit 2"
    )
    return [dict(r) for r in conn.execute(text(sql), {"mes": dia.replace(day=1)}).mappings()]


def _summary(dia: date, tz: ZoneInfo, day: dict[str, Any]) -> dict[str, Any]:
    totals = day["totals"]
    average = totals["duracao_media_minutos"]
    return {
        "data": dia.isoformat(),
        "fuso_horario": str(tz),
        "totais": {
            "eventos_checkin": int(totals["eventos_checkin"]),
            "visitas": int(totals["visitas"]),
            "alunos_presentes": int(totals["alunos_presentes"]),
            "duracao_media_minutos": float(average) if average is not None else None,
            "visitas_sem_saida": int(totals["visitas_sem_saida"]),
            "saidas_sem_entrada": int(totals["saidas_sem_entrada"]),
            "novos_alto_risco": len(day["high_risk"]),
        },
        "por_hora": [
            {"hora": int(r["hora"]), "visitas": int(r["visitas"]), "alunos": int(r["alunos"])}
            for r in day["by_hour"]
        ],
        "por_plano": [
            {
                "plano_id": int(r["plano_id"]),
                "plano": r["plano"],
                "visitas": int(r["visitas"]),
                "alunos": int(r["alunos"]),
            }
            for r in day["by_plan"]
        ],
    }


# --- rows -----------------------------------------------------------------------------------


def _minutes(value: Any) -> float | None:
    return round(float(value), 1) if value is not None else None


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    return value.astimezone(tz) if value is not None else None


def _present_row(row: dict, tz: ZoneInfo) -> dict:
    return {
        "aluno_id": int(row["aluno_id"]),
        "aluno_ref": row["aluno_ref"],
        "nome": row["nome"],
        "plano": row["plano"],
        "visitas": int(row["visitas"]),
        "primeira_entrada": _local(row["primeira_entrada"], tz),
        "ultima_saida": _local(row["ultima_saida"], tz),
        "minutos": _minutes(row["minutos"]),
    }


def factor_texts(fatores: Any) -> list[str]:
    """Readable lines from a score's factors, whatever shape the model wrote them in."""
    if fatores is None:
        return []
    if isinstance(fatores, str):
        return [fatores]
    if isinstance(fatores, dict):
        return [f"{key}: {value}" for key, value in fatores.items()]
    texts = []
    for item in fatores if isinstance(fatores, Iterable) else [fatores]:
        if isinstance(item, dict):
            found = next(
                (
                    str(item[key])
                    for key in ("descricao", "texto", "text", "description", "codigo", "fator")
                    if item.get(key) not in (None, "")
                ),
                None,
            )
            texts.append(found or json.dumps(item, ensure_ascii=False, sort_keys=True))
        elif item not in (None, ""):
            texts.append(str(item))
    return texts


def _high_risk_row(row: dict) -> dict:
    return {
        "aluno_id": int(row["aluno_id"]),
        "aluno_ref": row["aluno_ref"],
        "nome": row["nome"],
        "plano": row["plano"],
        "probabilidade": round(float(row["probabilidade"]), 4),
        "faixa_anterior": row["faixa_anterior"],
        "probabilidade_anterior": round(float(row["probabilidade_anterior"]), 4)
        if row["probabilidade_anterior"] is not None
        else None,
        "modelo_nome": row["modelo_nome"],
        "modelo_versao": row["modelo_versao"],
        "fatores": factor_texts(row["fatores"]),
    }


# --- CSV ------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value


def _text(value: str | None) -> str:
    """Free text as a spreadsheet shows it: never as a formula."""
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_START) else value


def render_csv(resumo: dict, present: list[dict], high_risk: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    dia = resumo["data"]

    def write(**fields: Any) -> None:
        writer.writerow({key: _cell(value) for key, value in fields.items()})

    for name in TOTALS:
        write(data=dia, secao="total", chave=name, valor=resumo["totais"][name])
    for row in resumo["por_hora"]:
        write(
            data=dia, secao="hora", chave=row["hora"], visitas=row["visitas"], alunos=row["alunos"]
        )
    for row in resumo["por_plano"]:
        write(
            data=dia,
            secao="plano",
            chave=row["plano_id"],
            plano=_text(row["plano"]),
            visitas=row["visitas"],
            alunos=row["alunos"],
        )
    for row in present:
        write(
            data=dia,
            secao="presente",
            chave=row["aluno_id"],
            aluno_id=row["aluno_id"],
            aluno_ref=_text(row["aluno_ref"]),
            nome=_text(row["nome"]),
            plano=_text(row["plano"]),
            visitas=row["visitas"],
            primeira_entrada=row["primeira_entrada"],
            ultima_saida=row["ultima_saida"],
            minutos=row["minutos"],
        )
    for row in high_risk:
        write(
            data=dia,
            secao="alto_risco",
            chave=row["aluno_id"],
            valor=row["probabilidade"],
            aluno_id=row["aluno_id"],
            aluno_ref=_text(row["aluno_ref"]),
            nome=_text(row["nome"]),
            plano=_text(row["plano"]),
            faixa_anterior=row["faixa_anterior"],
            modelo_nome=_text(row["modelo_nome"]),
            modelo_versao=_text(row["modelo_versao"]),
            fatores=_text(" | ".join(row["fatores"])),
        )
    return out.getvalue()


# --- HTML -----------------------------------------------------------------------------------


def _number(value: Any, decimals: int = 0) -> str:
    """Brazilian number format: 1.234,5."""
    if value is None:
        return "—"
    formatted = f"{float(value):,.{decimals}f}"
    return formatted.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def _percent(value: float | None) -> str:
    return "—" if value is None else _number(value * 100, 1) + "%"


def _count(value: int, singular: str, plural: str) -> str:
    """A count with its noun: 1 aluno, 1.234 alunos."""
    return f"{_number(value)} {singular if value == 1 else plural}"


def _clock(value: datetime | None, dia: date | None = None) -> str:
    """Local time of day; with the date when it is not the report's day (exit after midnight)."""
    if value is None:
        return "—"
    if dia is not None and value.date() != dia:
        return value.strftime("%H:%M (%d/%m)")
    return value.strftime("%H:%M")


@lru_cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["numero"] = _number
    env.filters["percentual"] = _percent
    env.filters["contagem"] = _count
    env.filters["hora"] = _clock
    return env


def hourly_chart(por_hora: list[dict]) -> dict:
    """Geometry of the SVG bar chart of visits by hour (drawn by the template)."""
    width, height = 760, 260
    left, right, top, bottom = 10, 10, 24, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / 24
    peak = max((row["visitas"] for row in por_hora), default=0)
    bars = []
    for row in por_hora:
        bar_h = plot_h * row["visitas"] / peak if peak else 0
        x = left + row["hora"] * slot
        bars.append(
            {
                "hora": row["hora"],
                "visitas": row["visitas"],
                "alunos": row["alunos"],
                "x": round(x + slot * 0.15, 1),
                "y": round(top + plot_h - bar_h, 1),
                "largura": round(slot * 0.7, 1),
                "altura": round(bar_h, 1),
                "centro": round(x + slot / 2, 1),
            }
        )
    return {
        "largura": width,
        "altura": height,
        "base": top + plot_h,
        "esquerda": left,
        "direita": width - right,
        "rotulo_y": height - 10,
        "barras": bars,
        "pico": peak,
    }


def plan_bars(por_plano: list[dict]) -> list[dict]:
    """Each plan's visits as a share of the busiest plan's (the bar widths, in %)."""
    peak = max((row["visitas"] for row in por_plano), default=0)
    return [
        {**row, "largura": round(100 * row["visitas"] / peak, 1) if peak else 0.0}
        for row in por_plano
    ]


def tier_legend(faixas: list[dict]) -> list[dict]:
    """One entry per model version of the day's batch: its tiers, highest first, with the
    range of probabilities it put in each."""
    versions: dict[tuple[str, str], dict[str, dict]] = {}
    for row in faixas:
        versions.setdefault((row["modelo_nome"], row["modelo_versao"]), {})[row["faixa_risco"]] = {
            "faixa": TIER_LABELS[row["faixa_risco"]],
            "alunos": int(row["alunos"]),
            "minima": float(row["minima"]),
            "maxima": float(row["maxima"]),
        }
    return [
        {
            "modelo_nome": name,
            "modelo_versao": version,
            "faixas": [tiers[tier] for tier in RISK_TIERS if tier in tiers],
        }
        for (name, version), tiers in versions.items()
    ]


def _month(value: date) -> str:
    return f"{MONTHS[value.month - 1]}/{value.year}"


def movement_rows(movimento: list[dict] | None) -> list[dict] | None:
    """The mart's rows as the template shows them: month name, to what day, numbers."""
    if movimento is None:
        return None
    return [
        {
            **row,
            "mes_nome": _month(row["mes"]),
            "ate": None if row["is_mes_completo"] else row["data_fim_medicao"].strftime("%d/%m"),
            "taxa_churn_mensal": _ratio(row["taxa_churn_mensal"]),
            "retencao_12m": _ratio(row["retencao_12m"]),
        }
        for row in movimento
    ]


def _ratio(value: Any) -> float | None:
    return float(value) if value is not None else None


def render_html(
    resumo: dict,
    present: list[dict],
    high_risk: list[dict],
    *,
    gerado_em: datetime,
    tz: ZoneInfo,
    dados_ate: datetime | None,
    movimento: list[dict] | None,
    faixas: list[dict],
) -> str:
    """The page. `dados_ate`: the day is in progress, with data up to then; `movimento`: the
    warehouse's month rows (None: not built); `faixas`: the day's batch per model and tier."""
    dia = date.fromisoformat(resumo["data"])
    return (
        _environment()
        .get_template("relatorio_diario.html")
        .render(
            dia=dia,
            dia_br=dia.strftime("%d/%m/%Y"),
            gerado_em=gerado_em.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
            fuso=str(tz),
            totais=resumo["totais"],
            por_hora=resumo["por_hora"],
            por_plano=resumo["por_plano"],
            grafico=hourly_chart(resumo["por_hora"]),
            barras_plano=plan_bars(resumo["por_plano"]),
            presentes=present,
            alto_risco=high_risk,
            dados_ate=dados_ate.astimezone(tz).strftime("%H:%M") if dados_ate else None,
            mes_relatorio=_month(dia),
            mes_relatorio_inicio=dia.replace(day=1),
            movimento=movement_rows(movimento),
            referencia_churn=BENCHMARK_MONTHLY_CHURN,
            referencia_retencao=BENCHMARK_RETENTION_12M,
            legendas_risco=tier_legend(faixas),
        )
    )
