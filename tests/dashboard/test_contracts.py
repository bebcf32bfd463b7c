"""What the dashboard restates instead of importing (it may import only `serving.config`): the
Redis keys the scoring writes, the risk tiers, the reason codes; and what its database role may
do — read the pages' tables, and nothing else."""

import psycopg
import pytest

from dashboard import charts, reasons
from dashboard.data import member, overview, risk
from models.reasons import FACTORS
from serving import cache, scores
from serving.db.engine import libpq_url
from serving.vocabulary import RISK_TIERS


def test_the_redis_keys_are_the_ones_the_scoring_writes():
    assert overview.KPI_KEY == scores.KPI_KEY
    assert risk.RISK_LIST_KEY == scores.RISK_LIST_KEY
    assert member.LATEST_FIELD == scores.LATEST_FIELD
    assert member.SCORE_GENERATION_KEY == cache.SCORE_GENERATION_KEY
    for generation in (None, b"1", b"12345"):
        assert member.latest_field(generation) == cache.generation_field(
            scores.LATEST_FIELD, generation
        )
    for aluno_id in (1, 987_654):
        assert member.churn_key(aluno_id) == cache.churn_key(aluno_id)


def test_the_risk_tiers_are_the_vocabularys():
    assert set(overview.TIERS) == set(RISK_TIERS)
    assert len(overview.TIERS) == len(RISK_TIERS)
    assert set(charts.TIER_COLORS.domain) == set(RISK_TIERS)


def test_every_reason_code_has_a_label_and_no_label_is_left_over():
    assert set(reasons.LABELS) == {factor.code for factor in FACTORS}


@pytest.fixture
def as_dashboard(settings):
    with psycopg.connect(libpq_url(settings.dashboard_database_url), autocommit=True) as conn:
        yield conn


def test_the_dashboard_role_reads_what_the_pages_show(as_dashboard):
    for query in (
        "select id, nome, plano_id, data_matricula, ativo from alunos limit 1",
        "select * from checkins limit 1",
        "select * from previsoes_churn_atuais limit 1",
        "select * from alunos_em_risco('America/Sao_Paulo') limit 1",
    ):
        as_dashboard.execute(query).fetchall()


def test_the_dashboard_role_cannot_write_even_in_a_read_write_transaction(as_dashboard):
    insert = (
        "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em) "
        "values (gen_random_uuid(), 1, 'entrada', now())"
    )
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        as_dashboard.execute(insert)
    # Its sessions start read-only, but a role may turn that off: the grant is what holds.
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_dashboard.transaction():
        as_dashboard.execute("set transaction read write")
        as_dashboard.execute(insert)


@pytest.mark.parametrize(
    "query",
    [
        "select * from usuarios",
        "select username, senha_hash from usuarios",
        "select email from alunos",
        "select telefone from alunos",
        "select data_nascimento from alunos",
        "select * from alunos",
        "select * from refresh_tokens",
    ],
)
def test_the_dashboard_role_cannot_read_staff_or_personal_data(as_dashboard, query):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_dashboard.execute(query)


def test_the_api_client_reads_the_apis_error_shape(gym):
    """The pages show `str(ApiError)`: the API's pt-BR sentence and, for a 422, each field's
    problem, never a raw list or an English message."""
    from dashboard.data.api import Api, ApiError

    client = Api(gym.api_url)
    token = gym.token("admin")["access_token"]
    with pytest.raises(ApiError) as invalid:
        client.call("POST", "/planos", token, json={"nome": "", "valor_mensal": "caro"})
    with pytest.raises(ApiError) as unknown:
        client.call("PATCH", "/aluno/999999999/desativar", token)

    assert invalid.value.status == 422
    assert str(invalid.value) == (
        "A API recusou (422): Dados inválidos: corrija o que está listado em erros. — "
        "nome: Deve ter ao menos 1 caractere(s).; valor_mensal: Deve ser um número decimal.; "
        "duracao_meses: Campo obrigatório."
    )
    assert invalid.value.body["codigo"] == "dados_invalidos"
    assert str(unknown.value) == "A API recusou (404): Aluno 999999999 não encontrado."
