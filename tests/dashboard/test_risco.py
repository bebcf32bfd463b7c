"""Risco de churn: the table is the API's at-risk list (`GET /alunos/risco`) row for row, each
filter keeps the rows the API (or a reading of its list) keeps, a shared URL opens with its
filters, the CSV export is the table shown, and synthetic students never appear. The filters sit
in a popover (the browser draws them only when it is opened); the caption says which are set."""

import math
from collections.abc import Collection
from datetime import date
from typing import Any

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import _calculate_file_id

from dashboard.ui import CACHE_DOWN
from serving.vocabulary import RISK_TIERS
from tests.dashboard.api_support import get, synthetic_student
from tests.dashboard.conftest import redis_down

PAGE = "pages/risco.py"
# The table's columns a reader of the API's items can fill in, and the item field of each.
FROM_ITEM = {
    "aluno_id": "aluno_id",
    "nome": "nome",
    "probabilidade": "probabilidade",
    "faixa_risco": "faixa_risco",
    "dias_desde_ultima_visita": "dias_desde_ultima_visita",
    "tendencia_visitas": "tendencia_visitas",
    "plano": "plano",
    "fim_contrato": "fim_contrato",
}
# What a check-in landing after the batch changes in the live list but not in the cached one.
ATTENDANCE = ("dias_desde_ultima_visita", "tendencia_visitas")


@pytest.fixture(scope="module")
def synthetic(gym) -> int:
    """A synthetic student who stopped coming: high risk, so it would rank if let in."""
    return synthetic_student(gym, dias_desde_ultima=60)


def _api_list(gym, **params: Any) -> list[dict[str, Any]]:
    return get(gym, "analista", "/alunos/risco", page_size=500, **params)["data"]


def _value(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _shown(at) -> list[dict[str, Any]]:
    table = at.dataframe[0].value
    return [{k: _value(v) for k, v in row.items()} for row in table.to_dict("records")]


def _expected(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        row = {column: item[field] for column, field in FROM_ITEM.items()}
        row["fim_contrato"] = date.fromisoformat(row["fim_contrato"])
        reasons = [f["descricao"] for f in item["fatores"]]
        for i in range(3):
            row[f"motivo_{i + 1}"] = reasons[i] if len(reasons) > i else None
        rows.append(row)
    return rows


def _comparable(rows: list[dict[str, Any]], came_since: Collection[int] = ()) -> list[dict]:
    """The rows without the tenure band (the API has join dates, not bands), and without the
    attendance of members who came since the batch."""
    return [
        {
            k: v
            for k, v in row.items()
            if k != "tempo_de_casa" and not (k in ATTENDANCE and row["aluno_id"] in came_since)
        }
        for row in rows
    ]


def _csv_url(table: pd.DataFrame) -> str:
    """Streamlit names a download by a hash of its bytes, type and file name: a button with this
    URL serves these bytes and no others. Brazilian spreadsheet CSV: `;` between fields, decimal
    comma, a BOM so Excel reads UTF-8."""
    expected = table.to_csv(index=False, sep=";", decimal=",").encode("utf-8-sig")
    return f"/mock/media/{_calculate_file_id(expected, 'text/csv', 'alunos_em_risco.csv')}.csv"


def _visited_since_the_batch(gym, items: list[dict[str, Any]]) -> set[int]:
    batch_at = max(pd.Timestamp(item["calculado_em"]) for item in items)
    rows = gym.conn.execute(
        "select distinct aluno_id from checkins where gravado_em > %s", (batch_at.to_pydatetime(),)
    )
    return {row[0] for row in rows}


def test_the_table_is_the_apis_list_in_its_order(gym, open_app, synthetic):
    """The page reads the list the batch cached, the API reads PostgreSQL now: the same rows,
    except the attendance of members who came after the batch (another test's check-ins)."""
    at = open_app("analista", PAGE)

    assert not at.exception
    items = _api_list(gym)
    shown, expected = _shown(at), _expected(items)
    came_since = _visited_since_the_batch(gym, items)
    assert _comparable(shown, came_since) == _comparable(expected, came_since)
    assert at.caption[-1].value.startswith(f"{len(items)} de {len(items)} alunos com maior risco.")
    # Unfiltered, the page serves the export it built once for the cached list: still the table.
    assert at.get("download_button")[0].proto.url == _csv_url(at.dataframe[0].value)


def test_synthetic_students_never_appear(gym, open_app, monkeypatch, synthetic):
    assert synthetic in {i["aluno_id"] for i in _api_list(gym, incluir_sinteticos="true")}
    cached = open_app("analista", PAGE)
    redis_down(monkeypatch)
    read_from_postgresql = open_app("analista", PAGE)

    for at in (cached, read_from_postgresql):
        assert not at.exception
        assert synthetic not in set(at.dataframe[0].value["aluno_id"])


def test_with_redis_down_the_rows_come_from_postgresql(gym, open_app, monkeypatch, synthetic):
    redis_down(monkeypatch)
    at = open_app("analista", PAGE)

    assert not at.exception
    assert any(CACHE_DOWN in c.value for c in at.caption)
    assert _comparable(_shown(at)) == _comparable(_expected(_api_list(gym)))


def test_the_tier_filter_keeps_the_apis_tier_list(gym, open_app):
    at = open_app("analista", PAGE)
    at.multiselect(key="faixa").set_value(["alto"]).run()

    assert not at.exception
    expected = _api_list(gym, faixa="alto")
    assert expected, "the gym has high-risk members"
    assert [r["aluno_id"] for r in _shown(at)] == [i["aluno_id"] for i in expected]


def test_the_plan_filter_keeps_the_apis_plan_list(gym, open_app):
    plano_id, plano = gym.conn.execute(
        "select id, nome from planos where nome = 'Anual'"
    ).fetchone()
    at = open_app("analista", PAGE)
    at.multiselect(key="plano").set_value([plano]).run()

    assert not at.exception
    expected = _api_list(gym, plano_id=plano_id)
    assert expected
    assert [r["aluno_id"] for r in _shown(at)] == [i["aluno_id"] for i in expected]
    assert {r["plano"] for r in _shown(at)} == {plano}


def test_the_search_finds_names_containing_the_text_in_any_case(gym, open_app):
    items = _api_list(gym)
    text = items[3]["nome"].split()[0][:4].upper()
    at = open_app("analista", PAGE)
    at.text_input(key="busca").set_value(text).run()

    assert not at.exception
    expected = [i["aluno_id"] for i in items if text.lower() in i["nome"].lower()]
    assert 1 <= len(expected) < len(items)
    assert [r["aluno_id"] for r in _shown(at)] == expected


def test_the_reason_filter_keeps_members_given_that_reason(gym, open_app):
    items = _api_list(gym)
    codes = pd.Series([f["fator"] for i in items for f in i["fatores"]]).value_counts()
    code = codes.index[-1]  # the rarest, so the filter visibly narrows the list
    at = open_app("analista", PAGE)
    at.multiselect(key="motivo").set_value([code]).run()

    assert not at.exception
    expected = [i["aluno_id"] for i in items if code in {f["fator"] for f in i["fatores"]}]
    assert len(expected) == codes[code]
    assert [r["aluno_id"] for r in _shown(at)] == expected


def test_a_shared_url_opens_with_its_filters(gym, open_app):
    """A browser writes each filter to the URL under its key (`query_param_key`: AppTest does
    not play the browser's part); a URL carrying them fills the filters in."""
    at = open_app("analista", PAGE, faixa="alto", plano="Mensal")

    assert not at.exception
    assert at.multiselect(key="faixa").options == list(RISK_TIERS)
    for key in ("faixa", "plano", "tempo", "motivo"):
        assert at.multiselect(key=key).proto.query_param_key == key
    assert at.text_input(key="busca").proto.query_param_key == "busca"
    assert at.multiselect(key="faixa").value == ["alto"]
    assert at.multiselect(key="plano").value == ["Mensal"]
    plano_id = gym.conn.execute("select id from planos where nome = 'Mensal'").fetchone()[0]
    expected = _api_list(gym, faixa="alto", plano_id=plano_id)
    assert [r["aluno_id"] for r in _shown(at)] == [i["aluno_id"] for i in expected]


def test_the_csv_export_is_the_filtered_table(gym, open_app):
    at = open_app("analista", PAGE)
    at.multiselect(key="faixa").set_value(["alto", "medio"]).run()
    at.text_input(key="busca").set_value("a").run()

    assert not at.exception
    table = at.dataframe[0].value
    assert 0 < len(table) < len(_api_list(gym))
    assert at.get("download_button")[0].proto.url == _csv_url(table)
    assert f"{len(table)} de " in at.caption[-1].value
    assert "(faixa: alto, medio; nome contém “a”)" in at.caption[-1].value
