"""Operações as an admin uses it, against the package's gym and its real API: jobs and their live
progress, the daily report opened in the page, a check-in CSV, a synthetic student and its risk,
kiosks, the system status, and the page with the API down."""

import base64
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import audit_log
from dashboard import format as fmt
from dashboard.auth import SESSION_KEY, User
from dashboard.data import operations
from dashboard.data.api import Tokens
from serving import rules, vocabulary
from serving.security import sha256_hex
from tests.churn_support import AS_OF
from tests.dashboard.conftest import APP, api_down
from tests.support import Worker, wait_until

PAGE = "pages/operacoes.py"


def _button(at: AppTest, key: str):
    return at.button(key=key)


def _table(at: AppTest, column: str):
    """The first table on the page with that column."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def _admin_headers(gym) -> dict[str, str]:
    return {"Authorization": f"Bearer {gym.token('admin')['access_token']}"}


def _active_members(gym, n: int) -> list[int]:
    rows = gym.conn.execute(
        "select id from alunos where ativo and coalesce(aluno_ref, '') not like 'SINT-%%' order by id limit %s",
        (n,),
    ).fetchall()
    return [r[0] for r in rows]


def test_the_dashboard_restates_the_api_limits_and_job_kinds():
    assert operations.BULK_MAX_EVENTS == rules.BULK_MAX_EVENTS
    assert set(operations.JOB_ROUTES) == {
        vocabulary.MODEL_UPDATE,
        vocabulary.CHURN_SCORING,
        vocabulary.DAILY_REPORT,
    }
    assert set(operations.UNFINISHED) == set(vocabulary.UNFINISHED_JOB_STATES)


def test_admin_opens_operacoes_with_every_section(gym, open_app):
    at = open_app("admin", page=PAGE)

    assert not at.exception
    assert at.title[0].value == "Operações"
    assert [t.label for t in at.tabs] == [
        "Tarefas",
        "Relatório diário",
        "Check-ins em lote",
        "Aluno sintético",
        "Usuários",
        "Quiosques",
        "Auditoria",
        "Sistema",
    ]
    assert not _button(at, "tarefa_calcular_churn").disabled


@pytest.mark.parametrize("role", ["analista", "recepcao"])
def test_the_page_itself_refuses_a_role_that_may_not_use_it(gym, role):
    """Opened by its file (as a URL would), the page stops before anything is shown."""
    at = AppTest.from_file(str(APP.parent / PAGE), default_timeout=60)
    at.session_state[SESSION_KEY] = User(f"{role}.painel", Tokens.from_answer(gym.token(role)))
    at.run()

    assert not at.exception
    assert [e.value for e in at.error] == [f"O perfil '{role}' não tem acesso à página Operações."]
    assert not at.button


def test_a_rescore_request_queues_a_job_and_its_progress_follows_it(gym, open_app):
    at = open_app("admin", page=PAGE)
    _button(at, "tarefa_calcular_churn").click().run()

    assert not at.exception
    assert any("Tarefa enfileirada" in s.value for s in at.success)
    job_id, estado, who = gym.conn.execute(
        "select id, estado, solicitado_por from jobs where tipo = 'calcular-churn' "
        "order by criado_em desc limit 1"
    ).fetchone()
    assert (estado, who) == ("queued", "admin.painel")
    bar = at.get("progress")[0]
    assert bar.value == 0
    assert "aguardando o worker" in bar.text

    # The job worker's side, written as it writes it: running, then done with its result.
    gym.conn.execute(
        "update jobs set estado = 'running', progresso = 0.4, mensagem = 'scoring members', "
        "iniciado_em = now() where id = %s",
        (job_id,),
    )
    at.run()
    bar = at.get("progress")[0]
    assert (bar.value, bar.text) == (40, "40 % · scoring members")

    result = {"data_referencia": AS_OF.isoformat(), "modelo_versao": "1", "alunos_pontuados": 512}
    gym.conn.execute(
        "update jobs set estado = 'done', progresso = 1, resultado = %s, terminado_em = now() "
        "where id = %s",
        (orjson.dumps(result).decode(), job_id),
    )
    at.run()

    assert not at.exception
    assert at.get("progress")[0].value == 100
    assert f"512 alunos pontuados com o modelo v1, referência {fmt.data(AS_OF)}." in [
        s.value for s in at.success
    ]
    recent = _table(at, "Tarefa")
    assert recent.iloc[0]["Tarefa"] == "Recalcular o risco de churn"
    assert recent.iloc[0]["Estado"] == "concluída"


def test_a_failed_job_shows_its_error(gym, open_app):
    at = open_app("admin", page=PAGE)
    _button(at, "tarefa_atualizar_modelo").click().run()
    job_id = gym.conn.execute(
        "select id from jobs where tipo = 'atualizar-modelo' order by criado_em desc limit 1"
    ).fetchone()[0]
    gym.conn.execute(
        "update jobs set estado = 'failed', erro = 'NoChampionError: no data', "
        "terminado_em = now() where id = %s",
        (job_id,),
    )
    at.run()

    assert not at.exception
    assert "A tarefa falhou: NoChampionError: no data" in [e.value for e in at.error]


def test_a_daily_report_is_opened_and_downloaded_from_the_page(gym, open_app):
    from serving.db.engine import sync_engine
    from serving.reports import generate_daily_report

    generate_daily_report(
        sync_engine(gym.settings.database_url),
        AS_OF,
        tz=gym.settings.tz,
        warehouse_schema=gym.settings.dbt_schema,
    )
    html = httpx.get(
        f"{gym.api_url}/relatorios/{AS_OF.isoformat()}/html", headers=_admin_headers(gym)
    ).text

    at = open_app("admin", page=PAGE)
    at.selectbox(key="relatorio_dia").set_value(AS_OF).run()

    assert not at.exception
    download = at.get("download_button")[0]
    assert download.proto.label == "Baixar relatório (HTML)"
    assert at.get("iframe"), "the report is shown in the page"
    frame_src = at.get("iframe")[0].proto.src
    assert frame_src.startswith("data:text/html;base64,")
    assert base64.b64decode(frame_src.split(",", 1)[1]).decode() == html


def test_a_csv_upload_names_the_refused_rows_and_the_good_rows_land(gym, open_app):
    good_a, good_b = _active_members(gym, 2)
    inactive = gym.conn.execute("select id from alunos where not ativo limit 1").fetchone()[0]
    now = datetime.now(UTC).replace(microsecond=0)
    entry = (now - timedelta(minutes=50)).isoformat()
    exit_ = (now - timedelta(minutes=5)).isoformat()
    # Local time without an offset, as a spreadsheet writes it.
    local_entry = (
        (now - timedelta(minutes=40)).astimezone(gym.settings.tz).strftime("%d/%m/%Y %H:%M:%S")
    )
    future = (now + timedelta(hours=2)).isoformat()
    explicit_id = "7d0f3f0e-7a4b-4b8e-9b7e-2f0c8a9b1c11"
    csv = "\n".join(
        [
            "aluno_id,tipo,ocorrido_em,checkin_id",
            f"{good_a},entrada,{entry},{explicit_id}",  # line 2
            f"{good_a},saida,{exit_},",  # line 3
            f"abc,entrada,{entry},",  # line 4: not a member id
            "999999999,entrada," + entry + ",",  # line 5: unknown member
            f"{good_b},entrada,{local_entry},",  # line 6
            f"{inactive},entrada,{entry},",  # line 7: inactive
            f"{good_b},saida,{future},",  # line 8: in the future
            f"{good_b},pulo,{entry},",  # line 9: not a check-in type
        ]
    ).encode()

    at = open_app("admin", page=PAGE)
    at.file_uploader(key="csv_checkins").set_value(("checkins.csv", csv, "text/csv")).run()
    assert not at.exception
    assert _button(at, "csv_enviar").label == "Enviar 6 check-ins"
    _button(at, "csv_enviar").click().run()

    assert not at.exception
    assert "3 check-ins aceitos pela API" in at.success[0].value
    refused = _table(at, "Motivo")
    assert refused["Linha"].tolist() == [4, 5, 7, 8, 9]
    reasons = dict(zip(refused["Linha"], refused["Motivo"], strict=True))
    assert reasons[4].startswith("aluno_id não é um número de aluno")
    # The API's own pt-BR reasons, per refused event of the batch.
    assert reasons[5] == "Aluno 999999999 não encontrado."
    assert reasons[7] == f"Aluno {inactive} está inativo."
    assert reasons[8].startswith("ocorrido_em está no futuro")
    assert reasons[9].startswith("tipo deve ser entrada ou saida")
    assert at.get("progress")[0].value == 100

    worker = Worker().start()
    try:
        landed = wait_until(
            lambda: (
                gym.conn.execute(
                    "select count(*) from checkins where aluno_id in (%s, %s) "
                    "and ocorrido_em >= %s and origem = 'manual'",
                    (good_a, good_b, now - timedelta(minutes=55)),
                ).fetchone()[0]
                == 3
            ),
            timeout=60,
        )
    finally:
        worker.stop()
    assert landed, "the three accepted rows are written to PostgreSQL"
    assert gym.conn.execute(
        "select aluno_id from checkins where checkin_id = %s", (explicit_id,)
    ).fetchone() == (good_a,)


def test_a_csv_without_the_columns_is_refused_whole(gym, open_app):
    at = open_app("admin", page=PAGE)
    at.file_uploader(key="csv_checkins").set_value(
        ("x.csv", b"id;quando\n1;2026-01-01\n", "text/csv")
    ).run()

    assert not at.exception
    assert any("faltam: aluno_id, tipo, ocorrido_em" in e.value for e in at.error)


def test_a_synthetic_student_is_created_and_its_risk_shown_at_once(gym, open_app):
    at = open_app("admin", page=PAGE)
    at.selectbox(key="sintetico_plano").set_value("Mensal")
    at.number_input(key="sintetico_visitas").set_value(0.5)
    # The package's warehouse (and so the live features the API scores from) is as of AS_OF,
    # over a year ago: a student whose history reaches back past it has a row there.
    at.number_input(key="sintetico_semanas").set_value(100)
    at.number_input(key="sintetico_dias").set_value(40)
    _button(at, "sintetico_criar").click().run()

    assert not at.exception
    assert not at.warning, [w.value for w in at.warning]
    created = gym.conn.execute(
        "select id, aluno_ref from alunos where aluno_ref like 'SINT-%%' order by id desc limit 1"
    ).fetchone()
    assert any(
        f"Aluno sintético #{created[0]} criado ({created[1]})" in s.value for s in at.success
    )
    probability, tier = gym.conn.execute(
        "select probabilidade, faixa_risco from previsoes_churn where aluno_id = %s "
        "order by id desc limit 1",
        (created[0],),
    ).fetchone()
    metric = next(m for m in at.metric if m.label == "Probabilidade de evasão em 30 dias")
    assert metric.value == fmt.percentual(float(probability))
    assert any(f"Faixa: **{tier}**" in c.value for c in at.caption)


def test_a_new_kiosk_key_is_shown_once_and_works(gym, open_app):
    at = open_app("admin", page=PAGE)
    at.text_input(key="dispositivo_nome").set_value("catraca-painel-d")
    at.text_input(key="dispositivo_local").set_value("Recepção")
    _button(at, "dispositivo_criar").click().run()

    assert not at.exception
    key = at.code[0].value
    device_id, stored_hash = gym.conn.execute(
        "select id, chave_hash from dispositivos where nome = 'catraca-painel-d'"
    ).fetchone()
    assert stored_hash == sha256_hex(key)
    assert "catraca-painel-d" in _table(at, "Chave (início)")["Nome"].tolist()
    answer = httpx.post(
        f"{gym.api_url}/aluno/checkin",
        headers={"X-API-Key": key},
        json={"aluno_id": _active_members(gym, 1)[0]},
        timeout=30,
    )
    assert answer.status_code == 202

    at.run()
    assert not [c for c in at.code if c.value == key], "the key is not shown again"

    at.selectbox(key="dispositivo_revogar_escolhido").set_value(device_id)
    _button(at, "dispositivo_revogar").click().run()
    assert not at.exception
    assert gym.conn.execute(
        "select revogado_em is not null from dispositivos where id = %s", (device_id,)
    ).fetchone() == (True,)


def test_users_are_listed_and_created(gym, open_app):
    at = open_app("admin", page=PAGE)
    at.text_input(key="usuario_novo_username").set_value("nova.recepcao")
    at.text_input(key="usuario_novo_senha").set_value("uma-senha-bem-longa")
    at.selectbox(key="usuario_novo_perfil").set_value("recepcao")
    _button(at, "usuario_criar").click().run()

    assert not at.exception
    assert "Usuário nova.recepcao criado." in [s.value for s in at.success]
    listed = _table(at, "Usuário")
    assert {"admin.painel", "nova.recepcao"} <= set(listed["Usuário"])
    new_id = int(listed.loc[listed["Usuário"] == "nova.recepcao", "ID"].iloc[0])

    at.selectbox(key="usuario_escolhido").set_value(new_id).run()
    at.toggle(key=f"usuario_ativo_{new_id}").set_value(False)
    _button(at, "usuario_salvar").click().run()
    assert not at.exception
    assert gym.conn.execute("select ativo from usuarios where id = %s", (new_id,)).fetchone() == (
        False,
    )


def test_the_dashboard_names_every_audited_action():
    assert set(audit_log.ACTION_LABELS) == set(vocabulary.AUDIT_ACTIONS)


def test_the_audit_section_lists_the_latest_actions_in_portuguese(gym, open_app):
    created = httpx.post(
        f"{gym.api_url}/admin/dispositivos",
        json={"nome": "catraca-auditoria", "local": "Piscina"},
        headers=_admin_headers(gym),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    device = created.json()
    when = gym.conn.execute(
        "select ocorrido_em from auditoria where alvo = %s", (f"dispositivo:{device['id']}",)
    ).fetchone()[0]
    logged = gym.conn.execute("select count(*) from auditoria").fetchone()[0]

    at = open_app("admin", page=PAGE)

    assert not at.exception
    table = _table(at, "Ação")
    assert len(table) == min(logged, audit_log.LATEST)
    assert table.iloc[0].to_dict() == {
        "Quando": fmt.data_hora(when, gym.settings.tz),
        "Quem": "admin.painel",
        "Ação": "Quiosque criado",
        "Alvo": f"quiosque {device['id']}",
        "Detalhes": "nome: catraca-auditoria · local: Piscina",
    }
    assert device["api_key"] not in table.to_string()


def test_the_status_shows_each_service_and_the_queues(gym, open_app):
    expected = httpx.get(f"{gym.api_url}/status", headers=_admin_headers(gym), timeout=30).json()
    at = open_app("admin", page=PAGE)

    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    labels = {"ok": "ok", "degraded": "degradado", "down": "fora do ar"}
    assert shown["PostgreSQL"] == labels[expected["postgres"]["status"]] == "ok"
    assert shown["RabbitMQ"] == labels[expected["rabbitmq"]["status"]]
    assert shown["Redis"] == labels[expected["redis"]["status"]]
    queues = _table(at, "Na DLQ")
    assert queues["Fila"].tolist() == [q["fila"] for q in expected["filas"]]
    assert "checkin_queue" in queues["Fila"].tolist()
    assert queues["Na DLQ"].tolist() == [q["dead_letter"] for q in expected["filas"]]


def test_with_the_api_down_the_page_renders_and_every_button_says_why(gym, open_app, monkeypatch):
    api_down(monkeypatch)
    at = open_app("admin", page=PAGE)

    assert not at.exception
    assert at.title[0].value == "Operações"
    reason = "API indisponível: a ação não pôde ser enviada. Tente de novo em instantes."
    assert any(reason in w.value for w in at.warning)
    actions = [b for b in at.button if b.key != "status_atualizar"]
    assert {b.key for b in actions} >= {
        "tarefa_atualizar_modelo",
        "tarefa_calcular_churn",
        "tarefa_relatorio",
        "sintetico_criar",
        "usuario_criar",
        "dispositivo_criar",
    }
    assert all(b.disabled and b.help == reason for b in actions)
