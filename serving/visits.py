"""Attendance for one member, computed with the shared pairing rule in `sql/pair_visits.sql`
(its numbers in `sql/pairing.sql`); `render_macro` renders any macro of `sql/` for the API."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader
from jinja2.runtime import Macro
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

SQL_DIR = Path(__file__).parent / "sql"


@lru_cache
def sql_macros() -> dict[str, Macro]:
    """The macros of sql/ as dbt sees them (macro-paths): every file's macros are globals, so
    pair_visits.sql calls pairing.sql's pairing_reach() here as it does in dbt."""
    env = Environment(loader=FileSystemLoader(SQL_DIR), autoescape=False)
    # One namespace shared by every file's module (not a copy), filled as the files load: a
    # macro looks its callees up there when it is called.
    namespace: dict[str, Macro] = {}
    for path in sorted(SQL_DIR.glob("*.sql")):
        module = env.get_template(path.name).make_module(vars=namespace, shared=True)
        namespace.update({k: v for k, v in vars(module).items() if isinstance(v, Macro)})
    return namespace


def render_macro(name: str, *args: str) -> str:
    """One macro of sql/, rendered as dbt would render `{{ name(*args) }}`."""
    return str(sql_macros()[name](*args))


def _number(name: str) -> int:
    return int(render_macro(name).strip())


# The pairing's numbers, from sql/pairing.sql (the macros dbt uses too).
PAIRING_REACH = timedelta(hours=_number("pairing_reach_hours"))
DOUBLE_TAP_WINDOW = timedelta(minutes=_number("double_tap_minutes"))
# Events this far around the range are read so pairs and double taps at its edges are seen:
# the pairing of an event depends only on the events within reach + double-tap window before it.
EDGE = PAIRING_REACH + DOUBLE_TAP_WINDOW


@lru_cache
def pair_visits_sql(events: str) -> str:
    return render_macro("pair_visits", events)


MEMBER_EVENTS = """(
    select checkin_id, aluno_id, tipo, ocorrido_em
    from checkins
    where aluno_id = :aluno_id and ocorrido_em >= :leitura_inicio and ocorrido_em < :leitura_fim
) as eventos_do_aluno"""

FREQUENCY_SQL = f"""
with pareado as ({pair_visits_sql(MEMBER_EVENTS)}),
no_periodo as (
    select * from pareado
    where coalesce(entrada, saida) >= :inicio and coalesce(entrada, saida) < :fim
)
select
    count(*) filter (where evento = 'visita') as total_visitas,
    count(*) filter (where evento = 'visita' and saida is not null) as visitas_com_saida,
    count(*) filter (where evento = 'saida_sem_entrada') as saidas_sem_entrada,
    avg(duracao_minutos) filter (where evento = 'visita') as duracao_media_minutos,
    max(entrada) as ultima_visita
from no_periodo
"""

VISITS_PAGE_SQL = f"""
with pareado as ({pair_visits_sql(MEMBER_EVENTS)})
select entrada, saida, duracao_minutos
from pareado
where evento = 'visita' and entrada >= :inicio and entrada < :fim
order by entrada desc
limit :limite offset :deslocamento
"""

WEEKLY_SQL = f"""
with pareado as ({pair_visits_sql(MEMBER_EVENTS)}),
semanas as (
    select generate_series(
        date_trunc('week', cast(:inicio_dia as date)), cast(:fim_dia as date), interval '1 week'
    )::date as semana
)
select s.semana, count(p.visita_id) as visitas
from semanas as s
left join pareado as p
    on p.evento = 'visita'
    and p.entrada >= :inicio and p.entrada < :fim
    and date_trunc('week', p.entrada at time zone :tz)::date = s.semana
group by s.semana
order by s.semana
"""


@dataclass(frozen=True)
class Period:
    inicio: date
    fim: date
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.inicio, time.min, self.tz)

    @property
    def end(self) -> datetime:
        """Exclusive: the start of the day after `fim`."""
        return datetime.combine(self.fim + timedelta(days=1), time.min, self.tz)

    @property
    def weeks(self) -> float:
        return ((self.fim - self.inicio).days + 1) / 7


async def member_frequency(
    session: AsyncSession, aluno_id: int, period: Period, *, page: int, page_size: int
) -> dict:
    params = {
        "aluno_id": aluno_id,
        "inicio": period.start,
        "fim": period.end,
        "leitura_inicio": period.start - EDGE,
        "leitura_fim": period.end + EDGE,
        "tz": str(period.tz),
        "inicio_dia": period.inicio,
        "fim_dia": period.fim,
    }
    summary = (await session.execute(text(FREQUENCY_SQL), params)).mappings().one()
    rows = (
        await session.execute(
            text(VISITS_PAGE_SQL),
            {**params, "limite": page_size, "deslocamento": (page - 1) * page_size},
        )
    ).mappings()
    weekly = (await session.execute(text(WEEKLY_SQL), params)).mappings()
    total = summary["total_visitas"]
    average = summary["duracao_media_minutos"]
    return {
        "aluno_id": aluno_id,
        "inicio": period.inicio,
        "fim": period.fim,
        "total_visitas": total,
        "visitas_com_saida": summary["visitas_com_saida"],
        "saidas_sem_entrada": summary["saidas_sem_entrada"],
        "frequencia_semanal": round(total / period.weeks, 2),
        "duracao_media_minutos": round(float(average), 1) if average is not None else None,
        "ultima_visita": summary["ultima_visita"],
        "semanas": [dict(row) for row in weekly],
        "visitas": [
            {
                "entrada": row["entrada"],
                "saida": row["saida"],
                "duracao_minutos": float(row["duracao_minutos"])
                if row["duracao_minutos"] is not None
                else None,
            }
            for row in rows
        ],
        "page": page,
        "page_size": page_size,
    }
