"""Visão geral: the counts equal what SQL counts, the monthly movement is the mart's last
complete month, the tiers are the scoring's KPI summary, the model shown is MLflow's champion,
scores of a past as-of are flagged before anyone acts on them, and with Redis down the page
reads PostgreSQL and shows the same numbers."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
import redis
from mlflow import MlflowClient

from dashboard import format as fmt
from dashboard.ui import CACHE_DOWN
from serving.scores import KPI_KEY
from tests.churn_support import AS_OF
from tests.dashboard.api_support import synthetic_student
from tests.dashboard.chart_support import chart_data
from tests.dashboard.conftest import redis_down

PAGE = "pages/visao_geral.py"
GYM_MEMBER = "coalesce(a.aluno_ref, '') not like 'SINT-%%'"


@pytest.fixture(scope="module")
def recent_synthetic(gym) -> int:
    """A synthetic student who came yesterday: entries in every window of the page (the
    simulated gym's own end over a year ago), which the counts must leave out."""
    return synthetic_student(gym, dias_desde_ultima=1)


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _entries_since(gym, days_back: int, *, synthetic: bool = False) -> int:
    """Entries from the start of the gym-local day `days_back` days ago."""
    today = datetime.now(gym.settings.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (today - timedelta(days=days_back)).astimezone(UTC)
    who = "not" if synthetic else ""
    return gym.conn.execute(
        f"select count(*) from checkins c join alunos a on a.id = c.aluno_id "
        f"where c.tipo = 'entrada' and c.ocorrido_em >= %s and {who} ({GYM_MEMBER})",
        (start,),
    ).fetchone()[0]


def _batch(gym) -> tuple[str, datetime]:
    """(model version, when) of the gym members' latest scores."""
    return gym.conn.execute(
        f"select p.modelo_versao, p.calculado_em from previsoes_churn p "
        f"join alunos a on a.id = p.aluno_id where {GYM_MEMBER} order by p.id desc limit 1"
    ).fetchone()


def test_the_counts_are_the_gyms_members_and_entries(gym, open_app, recent_synthetic):
    at = open_app("analista", PAGE)

    assert not at.exception
    shown = _metrics(at)
    active = gym.conn.execute(
        f"select count(*) from alunos a where a.ativo and {GYM_MEMBER}"
    ).fetchone()[0]
    assert shown["Alunos ativos"] == fmt.inteiro(active)
    for label, days_back in (
        ("Check-ins hoje", 0),
        ("Check-ins em 7 dias", 6),
        ("Check-ins em 30 dias", 29),
    ):
        assert shown[label] == fmt.inteiro(_entries_since(gym, days_back)), label
    assert _entries_since(gym, 6, synthetic=True) > 0, "the synthetic entries are left out"


def test_the_movement_is_the_marts_last_complete_month(gym, open_app):
    """The mart counts the as-of month up to the as-of day; its rates would read as a sudden
    drop, so the page shows the month before and says why."""
    at = open_app("analista", PAGE)

    assert not at.exception
    mes, taxa, retencao, matriculas, cancelamentos = gym.conn.execute(
        "select mes, taxa_churn_mensal, retencao_12m, matriculas, cancelamentos "
        f'from "{gym.settings.dbt_schema}".mart_member_movement_monthly '
        "where is_mes_completo order by mes desc limit 1"
    ).fetchone()
    assert mes == (AS_OF.replace(day=1) - timedelta(days=1)).replace(day=1)
    month = mes.strftime("%m/%Y")
    shown = _metrics(at)
    assert shown[f"Evasão em {month}"] == fmt.percentual(float(taxa))
    assert shown["Retenção em 12 meses"] == fmt.percentual(
        None if retencao is None else float(retencao)
    )
    assert shown[f"Matrículas em {month}"] == fmt.inteiro(matriculas)
    assert shown[f"Cancelamentos em {month}"] == fmt.inteiro(cancelamentos)
    assert f"O mês corrente conta até {fmt.data(AS_OF)} e fica fora das taxas." in [
        c.value for c in at.caption
    ]


def test_the_tier_chart_is_the_kpi_summary_and_the_current_scores(gym, open_app):
    at = open_app("analista", PAGE)

    assert not at.exception
    drawn = chart_data(at, "faixa")
    per_tier = dict(zip(drawn["faixa"], drawn["alunos"].astype(int), strict=True))
    cached = redis.Redis.from_url(gym.settings.redis_url).get(KPI_KEY)
    assert cached is not None, "the batch wrote its KPI summary"
    kpis = orjson.loads(cached)
    assert per_tier == kpis["por_faixa"]
    counted = gym.conn.execute(
        "select p.faixa_risco, count(*) from previsoes_churn_atuais p "
        f"join alunos a on a.id = p.aluno_id where a.ativo and {GYM_MEMBER} group by 1"
    ).fetchall()
    assert per_tier == dict(counted)


def test_the_freshness_tiles_name_the_champion_and_the_latest_times(gym, open_app):
    at = open_app("analista", PAGE)

    assert not at.exception
    champion = MlflowClient(gym.settings.mlflow_tracking_uri).get_model_version_by_alias(
        gym.settings.churn_model_name, "champion"
    )
    version, scored_at = _batch(gym)
    assert version == str(champion.version)
    written = gym.conn.execute("select max(gravado_em) from checkins").fetchone()[0]
    shown = _metrics(at)
    assert shown["Modelo em uso"] == f"{gym.settings.churn_model_name} v{champion.version}"
    assert shown["Último cálculo de risco"] == fmt.data_hora(scored_at, gym.settings.tz)
    assert shown["Último check-in processado"] == fmt.data_hora(written, gym.settings.tz)


def test_scores_of_a_past_as_of_are_flagged_however_recently_they_ran(gym, open_app):
    """The fixture scored the gym minutes ago, but as of a day over a year back: those risks
    describe members as they were then."""
    at = open_app("analista", PAGE)

    assert not at.exception
    _, scored_at = _batch(gym)
    hours = gym.settings.dashboard_stale_scores_hours
    assert [w.value for w in at.warning] == [
        f"Riscos desatualizados: calculados em {fmt.data_hora(scored_at, gym.settings.tz)} com "
        f"dados até {fmt.data(AS_OF)}, há mais de {hours} h. Confira antes de agir."
    ]


@pytest.fixture
def kpis_as_of_today(gym):
    """The KPI summary as a batch scored tonight would write it; the fixture's put back after."""
    client = redis.Redis.from_url(gym.settings.redis_url)
    saved, ttl = client.get(KPI_KEY), client.pttl(KPI_KEY)
    assert saved is not None, "the batch wrote its KPI summary"
    kpis = orjson.loads(saved)
    kpis["data_referencia"] = datetime.now(gym.settings.tz).date().isoformat()
    kpis["calculado_em"] = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    client.set(KPI_KEY, orjson.dumps(kpis))
    yield kpis
    client.set(KPI_KEY, saved, px=ttl if ttl > 0 else None)


def test_scores_of_tonights_batch_carry_no_warning(gym, open_app, kpis_as_of_today):
    at = open_app("analista", PAGE)

    assert not at.exception
    assert not at.warning
    assert _metrics(at)["Último cálculo de risco"] == fmt.data_hora(
        datetime.fromisoformat(kpis_as_of_today["calculado_em"]), gym.settings.tz
    )


def test_with_redis_down_the_page_reads_postgresql_and_shows_the_same(
    gym, open_app, monkeypatch, recent_synthetic
):
    """A synthetic student scored on demand after the batch is the newest score in PostgreSQL;
    it is no scoring of the gym, so the tile still shows the batch."""
    cached = open_app("analista", PAGE)
    redis_down(monkeypatch)
    at = open_app("analista", PAGE)

    assert not at.exception
    assert any(CACHE_DOWN in c.value for c in at.caption)
    assert not any(CACHE_DOWN in c.value for c in cached.caption)
    assert _metrics(at) == _metrics(cached)
    assert [w.value for w in at.warning] == [w.value for w in cached.warning]
    assert chart_data(at, "faixa").equals(chart_data(cached, "faixa"))
