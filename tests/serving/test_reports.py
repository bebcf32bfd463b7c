"""The daily attendance report: numbers a gym manager would check, computed from the
application tables with the shared pairing rule, stored once per day, served by the API."""

import csv
import io
import json
import re
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from psycopg.rows import namedtuple_row
from sqlalchemy import create_engine

from serving.messaging.topology import CHURN_PROBABILITIES_QUEUE, DAILY_REPORT_QUEUE
from serving.reports import CSV_COLUMNS, generate_daily_report
from tests.support import refused

TZ = ZoneInfo("America/Sao_Paulo")
DIA = date(2026, 11, 26)
SCRIPT = "<script>alert(1)</script>"
# These tests build no warehouse: the month's movement KPIs (the dbt mart) are in tests/warehouse.
NO_WAREHOUSE = "sem_warehouse"


def at(hhmm: str, day: date = DIA) -> datetime:
    """A gym-local time on `day`."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def report(engine, dia: date = DIA, **options) -> dict:
    return generate_daily_report(engine, dia, tz=TZ, warehouse_schema=NO_WAREHOUSE, **options)


def tap(db, aluno_id: int, tipo: str, when: datetime) -> None:
    db.execute(
        "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em) values (%s, %s, %s, %s)",
        (uuid.uuid4(), aluno_id, tipo, when),
    )


def score(db, aluno_id: int, faixa: str, probabilidade: float, when: datetime) -> None:
    db.execute(
        "insert into previsoes_churn (aluno_id, data_referencia, probabilidade, faixa_risco, "
        "modelo_nome, modelo_versao, fatores, calculado_em) "
        "values (%s, %s, %s, %s, 'churn-rf', '4', %s, %s)",
        (
            aluno_id,
            when.date(),
            probabilidade,
            faixa,
            json.dumps(
                [
                    {"codigo": "tendencia_visitas", "descricao": "visitas caíram 60% em 4 semanas"},
                    {"codigo": "fim_contrato", "descricao": "contrato vence em 9 dias"},
                ]
            ),
            when,
        ),
    )


@pytest.fixture
def engine(settings):
    engine = create_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def gym(db, make_member, plan_id) -> dict[str, int]:
    """A day at the gym (DIA, São Paulo time, UTC-3), with the traps a report can fall in."""
    anual = db.execute(
        "insert into planos (nome, valor_mensal, duracao_meses) values ('Anual', 89.9, 12) "
        "returning id"
    ).fetchone()[0]
    db.execute(
        "insert into planos (nome, valor_mensal, duracao_meses) values ('Trimestral', 110, 3)"
    )
    db.execute(
        "insert into planos (nome, valor_mensal, duracao_meses, ativo) "
        "values ('Antigo', 50, 1, false)"
    )
    m = {
        "ana": make_member(nome="Ana Lima"),
        "bruno": make_member(nome="Bruno Souza"),
        "carla": make_member(nome="Carla Dias"),
        "diego": make_member(nome="Diego Alves"),
        "eva": make_member(nome=SCRIPT),
        "fabio": make_member(nome="Fábio Rocha"),
    }
    db.execute(
        "update alunos set plano_id = %s where id in (%s, %s)", (anual, m["bruno"], m["carla"])
    )
    db.execute("update alunos set aluno_ref = 'LEG-0042' where id = %s", (m["ana"],))
    # Ana: two visits; the second entry tap a minute later is a double tap.
    tap(db, m["ana"], "entrada", at("07:10"))
    tap(db, m["ana"], "entrada", at("07:11"))
    tap(db, m["ana"], "saida", at("08:20"))
    tap(db, m["ana"], "entrada", at("18:00"))
    tap(db, m["ana"], "saida", at("18:45"))
    # Bruno: enters at 23:50 (02:50 UTC the next day), leaves after midnight.
    tap(db, m["bruno"], "entrada", at("23:50"))
    tap(db, m["bruno"], "saida", at("00:40", DIA + timedelta(days=1)))
    # Carla: enters at 00:10 (03:10 UTC), the kiosk misses her exit.
    tap(db, m["carla"], "entrada", at("00:10"))
    # Diego: a visit of the day before that ends after midnight, and one the day after.
    tap(db, m["diego"], "entrada", at("23:30", DIA - timedelta(days=1)))
    tap(db, m["diego"], "saida", at("00:20"))
    tap(db, m["diego"], "entrada", at("00:05", DIA + timedelta(days=1)))
    # Eva (a name that is markup): 12:00 to 13:00.
    tap(db, m["eva"], "entrada", at("12:00"))
    tap(db, m["eva"], "saida", at("13:00"))
    # Fábio: an exit with no entry.
    tap(db, m["fabio"], "saida", at("15:00"))

    yesterday, tomorrow = DIA - timedelta(days=1), DIA + timedelta(days=1)
    score(db, m["ana"], "medio", 0.45, at("03:00", yesterday))
    score(db, m["ana"], "alto", 0.81, at("03:00"))  # medio -> alto: listed
    score(db, m["bruno"], "alto", 0.77, at("03:00", yesterday))
    score(db, m["bruno"], "alto", 0.79, at("03:00"))  # already alto: not listed
    score(db, m["carla"], "alto", 0.66, at("03:00"))  # first score, alto: listed
    score(db, m["eva"], "baixo", 0.1, at("03:00", yesterday))
    score(db, m["eva"], "alto", 0.7, at("03:00"))
    score(db, m["eva"], "medio", 0.4, at("20:00"))  # the day's latest is medio: not listed
    score(db, m["fabio"], "medio", 0.5, at("03:00", yesterday))
    score(db, m["fabio"], "alto", 0.9, at("22:30"))  # 01:30 UTC the next day: listed
    score(db, m["diego"], "medio", 0.5, at("03:00", yesterday))
    score(db, m["diego"], "alto", 0.95, at("00:30", tomorrow))  # the next day: not listed
    return m | {"anual": anual, "mensal": plan_id}


def _csv(text: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and all(list(row) == list(CSV_COLUMNS) for row in rows)
    return rows


def _section(rows: list[dict], secao: str) -> list[dict]:
    return [row for row in rows if row["secao"] == secao]


def _stored(db, dia: date = DIA):
    return (
        db.cursor(row_factory=namedtuple_row)
        .execute(
            "select data, job_id, resumo, csv, html from relatorios_diarios where data = %s",
            (dia,),
        )
        .fetchone()
    )


# --- the report -----------------------------------------------------------------------------


def test_totals_count_visits_with_the_pairing_rule_in_gym_time(db, engine, gym):
    resumo = report(engine)

    assert resumo["data"] == "2026-11-26" and resumo["fuso_horario"] == "America/Sao_Paulo"
    assert resumo["totais"] == {
        "eventos_checkin": 11,  # every tap of the day, double tap and orphan exit included
        "visitas": 5,  # Ana 2, Bruno, Carla, Eva; not Diego's visits of other days
        "alunos_presentes": 4,
        "duracao_media_minutos": 56.3,  # (70 + 45 + 50 + 60) / 4; Carla has no exit
        "visitas_sem_saida": 1,
        "saidas_sem_entrada": 1,  # Fábio; Diego's 00:20 exit pairs with yesterday's entry
        "novos_alto_risco": 3,  # Ana, Carla, Fábio
    }


def test_by_hour_lists_every_hour_and_places_visits_in_gym_time(db, engine, gym):
    por_hora = report(engine)["por_hora"]

    assert [row["hora"] for row in por_hora] == list(range(24))
    busy = {row["hora"]: (row["visitas"], row["alunos"]) for row in por_hora if row["visitas"]}
    # 00:10 is 03:10 UTC and 23:50 is 02:50 UTC the next day: both on this day, in gym hours.
    assert busy == {0: (1, 1), 7: (1, 1), 12: (1, 1), 18: (1, 1), 23: (1, 1)}


def test_by_plan_counts_visits_and_members_and_lists_active_plans(db, engine, gym):
    por_plano = report(engine)["por_plano"]

    assert por_plano == [
        {"plano_id": gym["mensal"], "plano": "Mensal", "visitas": 3, "alunos": 2},
        {"plano_id": gym["anual"], "plano": "Anual", "visitas": 2, "alunos": 2},
        {"plano_id": por_plano[2]["plano_id"], "plano": "Trimestral", "visitas": 0, "alunos": 0},
    ]


def test_members_present_in_the_csv(db, engine, gym):
    report(engine)
    rows = _csv(_stored(db).csv)

    present = {int(row["aluno_id"]): row for row in _section(rows, "presente")}
    assert set(present) == {gym["ana"], gym["bruno"], gym["carla"], gym["eva"]}
    ana = present[gym["ana"]]
    assert (ana["nome"], ana["aluno_ref"], ana["plano"]) == ("Ana Lima", "LEG-0042", "Mensal")
    assert ana["visitas"] == "2" and float(ana["minutos"]) == 115.0
    assert ana["primeira_entrada"] == "2026-11-26T07:10:00-03:00"
    assert ana["ultima_saida"] == "2026-11-26T18:45:00-03:00"
    assert present[gym["bruno"]]["ultima_saida"] == "2026-11-27T00:40:00-03:00"
    assert present[gym["carla"]]["ultima_saida"] == "" and present[gym["carla"]]["minutos"] == ""
    assert all(row["data"] == "2026-11-26" for row in rows)
    totals = {row["chave"]: row["valor"] for row in _section(rows, "total")}
    assert totals["visitas"] == "5" and totals["duracao_media_minutos"] == "56.3"
    hours = {int(row["chave"]): int(row["visitas"]) for row in _section(rows, "hora")}
    assert len(hours) == 24 and hours[23] == 1 and hours[22] == 0
    plans = {row["plano"]: (row["visitas"], row["alunos"]) for row in _section(rows, "plano")}
    assert plans["Mensal"] == ("3", "2")


def test_members_who_became_high_risk_that_day(db, engine, gym):
    report(engine)
    stored = _stored(db)
    rows = _section(_csv(stored.csv), "alto_risco")

    # Highest probability first; Bruno (already alto), Eva (ended the day medio) and Diego
    # (scored the next day) are not there.
    assert [int(row["aluno_id"]) for row in rows] == [gym["fabio"], gym["ana"], gym["carla"]]
    ana = rows[1]
    assert float(ana["valor"]) == 0.81 and ana["faixa_anterior"] == "medio"
    assert (ana["modelo_nome"], ana["modelo_versao"]) == ("churn-rf", "4")
    assert ana["fatores"] == "visitas caíram 60% em 4 semanas | contrato vence em 9 dias"
    assert rows[2]["faixa_anterior"] == ""  # Carla's first score
    assert "contrato vence em 9 dias" in stored.html
    assert "Ana Lima" in stored.html.split("alto risco de evasão")[1]


def test_html_is_self_contained_and_escapes_member_names(db, engine, gym):
    report(engine)
    html = _stored(db).html

    assert SCRIPT not in html and "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Relatório diário de frequência — 26/11/2026" in html
    assert "<svg" in html and html.count("<rect") == 24
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html and "<link" not in html
    assert "00:40 (27/11)" in html  # Bruno left after midnight


def test_regenerating_a_day_replaces_it_and_the_summary_round_trips(db, engine, gym):
    first = report(engine)
    tap(db, gym["fabio"], "entrada", at("16:00"))
    job = uuid.uuid4()
    calls: list[tuple[float, str]] = []

    second = report(engine, job_id=job, progress=lambda f, m: calls.append((f, m)))

    assert db.execute("select count(*) from relatorios_diarios").fetchone()[0] == 1
    stored = _stored(db)
    assert stored.job_id == job and stored.resumo == second
    assert second["totais"]["visitas"] == first["totais"]["visitas"] + 1
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(message, str) and message for _, message in calls)


def test_an_empty_day_has_every_hour_at_zero(db, engine, plan_id):
    resumo = report(engine, date(2020, 1, 1))

    assert resumo["totais"]["visitas"] == 0 and resumo["totais"]["duracao_media_minutos"] is None
    assert [row["visitas"] for row in resumo["por_hora"]] == [0] * 24
    html = _stored(db, date(2020, 1, 1)).html
    assert "Nenhuma visita neste dia." in html


def test_csv_never_hands_a_spreadsheet_a_formula(db, engine, make_member):
    aluno = make_member(nome='=HYPERLINK("http://x")')
    tap(db, aluno, "entrada", at("10:00"))
    report(engine)

    (row,) = _section(_csv(_stored(db).csv), "presente")
    assert row["nome"] == '\'=HYPERLINK("http://x")'


def test_synthetic_students_are_in_no_table_or_count(db, engine, gym):
    """A synthetic student (made to try the model) who visited, and became high risk, that day."""
    sintetico = db.execute(
        "insert into alunos (aluno_ref, nome, plano_id, data_matricula) "
        "values ('SINT-3f9a1c0b7e', 'Aluno Sintético 3f9a1c', %s, %s) returning id",
        (gym["anual"], at("06:00") - timedelta(days=60)),
    ).fetchone()[0]
    tap(db, sintetico, "entrada", at("09:00"))
    tap(db, sintetico, "saida", at("09:30"))
    tap(db, sintetico, "saida", at("21:00"))  # an exit without entry
    score(db, sintetico, "alto", 0.99, at("03:00"))

    resumo = report(engine)
    stored = _stored(db)

    assert resumo["totais"] == {
        "eventos_checkin": 11,
        "visitas": 5,
        "alunos_presentes": 4,
        "duracao_media_minutos": 56.3,
        "visitas_sem_saida": 1,
        "saidas_sem_entrada": 1,
        "novos_alto_risco": 3,
    }
    assert [row["visitas"] for row in resumo["por_hora"]][9] == 0
    assert {row["plano"]: row["visitas"] for row in resumo["por_plano"]}["Anual"] == 2
    rows = _csv(stored.csv)
    assert str(sintetico) not in {row["aluno_id"] for row in rows}
    assert "SINT-" not in stored.csv and "SINT-" not in stored.html
    assert "Sintético" not in stored.html and "99,0%" not in stored.html


def test_a_report_of_today_says_the_day_is_in_progress(db, engine, member):
    now = datetime.now(TZ)
    tap(db, member, "entrada", now - timedelta(minutes=5))

    report(engine, now.date())
    html = _stored(db, now.date()).html
    report(engine)  # a past day

    banner = re.search(r"Dia em andamento, dados até (\d\d):(\d\d)", html)
    assert banner, html[:2000]
    read_at = datetime.combine(now.date(), time(int(banner[1]), int(banner[2])), TZ)
    assert now - timedelta(minutes=1) <= read_at <= datetime.now(TZ)
    assert "Dia em andamento" not in _stored(db).html


def test_members_present_are_folded_with_their_count(db, engine, gym):
    report(engine)
    html = _stored(db).html

    assert "<details open" not in html
    folded = html.split("<details>")[1].split("</details>")[0]
    summary = folded.split("<summary>")[1].split("</summary>")[0]
    assert summary.startswith("4 alunos presentes")
    assert all(name in folded for name in ("Ana Lima", "Bruno Souza", "Carla Dias"))
    # the table is in the fold only: the page before it names no member present
    assert "Bruno Souza" not in html.split("<details>")[0]


def test_visits_by_plan_are_drawn_as_bars(db, engine, gym):
    report(engine)
    html = _stored(db).html

    chart = html.split("visitas por plano")[1].split("Plano atual de cada aluno")[0]
    bars = re.findall(
        r'title="([^"]+)">.*?style="width: ([\d.]+)%".*?(\d+) visitas · (\d+) alunos', chart, re.S
    )
    assert bars == [
        ("Mensal", "100.0", "3", "2"),
        ("Anual", "66.7", "2", "2"),
        ("Trimestral", "0.0", "0", "0"),
    ]


def test_risk_tiers_are_defined_by_the_days_scores(db, engine, gym):
    report(engine)
    html = _stored(db).html

    # The day's latest scores: Ana 0.81, Bruno 0.79, Carla 0.66, Fábio 0.9 alto; Eva ended the
    # day medio (0.4); Diego's latest score as of the day is the day before's, not this batch's.
    legend = html.split("Faixas do modelo churn-rf v4 nas previsões deste dia")[1].split("</dl>")[0]
    tiers = re.findall(r"<dt>(\w+)</dt><dd>([^<]+)</dd>", legend)
    assert tiers == [
        ("alto", "probabilidades de 66,0% a 90,0% (4 alunos)"),
        ("médio", "probabilidades de 40,0% a 40,0% (1 aluno)"),
    ]
    assert "cancelar nos próximos 30 dias" in html


def test_without_a_warehouse_the_month_kpis_say_so(db, engine, gym):
    report(engine)

    assert "Indicadores do mês indisponíveis" in _stored(db).html


# --- API ------------------------------------------------------------------------------------


def test_requesting_a_report_queues_a_job(client, headers, rabbit, db, member):
    tap(db, member, "entrada", at("09:00", date(2026, 1, 5)))  # the data starts before the day
    response = client.post(
        "/relatorios/diario", json={"data": "2026-11-26"}, headers=headers["analista"]
    )

    assert response.status_code == 202, response.text
    job = response.json()
    assert job["tipo"] == "relatorio-diario" and job["estado"] == "queued"
    assert job["parametros"] == {"data": "2026-11-26"}
    assert job["solicitado_por"] == "analista.teste"
    row = db.execute("select tipo, parametros from jobs where id = %s", (job["id"],)).fetchone()
    assert row == ("relatorio-diario", {"data": "2026-11-26"})
    message = json.loads(rabbit.basic_get(DAILY_REPORT_QUEUE, auto_ack=True)[2])
    assert message == {
        "job_id": job["id"],
        "tipo": "relatorio-diario",
        "parametros": {"data": "2026-11-26"},
    }


def test_a_report_defaults_to_today_in_gym_time(client, headers, rabbit, settings):
    response = client.post("/relatorios/diario", headers=headers["admin"])

    assert response.status_code == 202, response.text
    today = datetime.now(settings.tz).date().isoformat()
    assert response.json()["parametros"] == {"data": today}


def test_a_report_of_the_future_is_refused(client, headers, rabbit, settings):
    tomorrow = datetime.now(settings.tz).date() + timedelta(days=1)

    response = client.post(
        "/relatorios/diario", json={"data": tomorrow.isoformat()}, headers=headers["admin"]
    )

    assert "está no futuro" in refused(response, 422, "dia_fora_dos_dados")["detail"]
    assert rabbit.basic_get(DAILY_REPORT_QUEUE, auto_ack=True)[2] is None
    bad = client.post("/relatorios/diario", json={"data": "ontem"}, headers=headers["admin"])
    assert bad.status_code == 422


def test_reports_are_listed_read_and_downloaded(client, headers, engine, gym):
    report(engine, DIA - timedelta(days=1))
    job = uuid.uuid4()
    resumo = report(engine, job_id=job)

    listed = client.get("/relatorios", headers=headers["analista"]).json()
    assert listed["count"] == 2 and listed["page"] == 1
    assert [item["data"] for item in listed["data"]] == ["2026-11-26", "2026-11-25"]
    assert listed["data"][0]["job_id"] == str(job)
    assert listed["data"][0]["totais"] == resumo["totais"]
    second_page = client.get(
        "/relatorios", params={"page": 2, "page_size": 1}, headers=headers["admin"]
    ).json()
    assert [item["data"] for item in second_page["data"]] == ["2026-11-25"]

    detail = client.get("/relatorios/2026-11-26", headers=headers["analista"])
    assert detail.status_code == 200
    assert detail.json()["resumo"] == resumo and detail.json()["totais"] == resumo["totais"]

    as_csv = client.get("/relatorios/2026-11-26/csv", headers=headers["analista"])
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        as_csv.headers["content-disposition"] == 'attachment; filename="relatorio-2026-11-26.csv"'
    )
    assert len(_section(_csv(as_csv.text), "presente")) == 4

    as_html = client.get("/relatorios/2026-11-26/html", headers=headers["admin"])
    assert as_html.status_code == 200
    assert as_html.headers["content-type"] == "text/html; charset=utf-8"
    assert "&lt;script&gt;" in as_html.text


@pytest.mark.parametrize("suffix", ["", "/csv", "/html"])
def test_a_day_without_report_is_404(client, headers, suffix):
    response = client.get(f"/relatorios/2026-01-01{suffix}", headers=headers["analista"])

    body = refused(response, 404, "relatorio_nao_encontrado")
    assert response.headers["content-type"] == "application/json"
    assert "Não há relatório de 2026-01-01" in body["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/relatorios/diario"),
        ("GET", "/relatorios"),
        ("GET", "/relatorios/2026-11-26"),
        ("GET", "/relatorios/2026-11-26/csv"),
        ("GET", "/relatorios/2026-11-26/html"),
    ],
)
def test_front_desk_cannot_see_reports(client, headers, engine, gym, method, path):
    report(engine)

    response = client.request(method, path, headers=headers["recepcao"])

    assert response.status_code == 403


def test_batch_scoring_queues_a_job(client, headers, rabbit, db, member):
    tap(db, member, "entrada", at("09:00", date(2026, 1, 5)))  # the data starts before the day
    response = client.post(
        "/admin/calcular-churn", json={"data_referencia": "2026-11-28"}, headers=headers["admin"]
    )

    assert response.status_code == 202, response.text
    job = response.json()
    assert job["tipo"] == "calcular-churn" and job["estado"] == "queued"
    assert job["parametros"] == {"data_referencia": "2026-11-28"}
    message = json.loads(rabbit.basic_get(CHURN_PROBABILITIES_QUEUE, auto_ack=True)[2])
    assert message["job_id"] == job["id"] and message["tipo"] == "calcular-churn"
    assert db.execute("select count(*) from jobs where tipo = 'calcular-churn'").fetchone()[0] == 1

    default = client.post("/admin/calcular-churn", headers=headers["admin"])
    assert default.status_code == 202 and default.json()["parametros"] == {}


def test_batch_scoring_refuses_the_future_and_non_admins(client, headers, rabbit, settings):
    tomorrow = datetime.now(settings.tz).date() + timedelta(days=1)

    future = client.post(
        "/admin/calcular-churn",
        json={"data_referencia": tomorrow.isoformat()},
        headers=headers["admin"],
    )
    analyst = client.post("/admin/calcular-churn", json={}, headers=headers["analista"])

    assert "está no futuro" in refused(future, 422, "dia_fora_dos_dados")["detail"]
    assert analyst.status_code == 403
    assert rabbit.basic_get(CHURN_PROBABILITIES_QUEUE, auto_ack=True)[2] is None
