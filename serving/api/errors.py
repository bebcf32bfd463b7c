"""The API's one error shape, built here and nowhere else.

Every refusal the API answers, whatever raised it (a route, a dependency, a middleware, the
validation of a request, a database or broker outage), is an `ErroOut`: `detail`, one pt-BR
sentence for a person; `codigo`, a stable snake_case code for a program; `erros`, the problems
per field or per bulk event when there are several. `CODES` is the table of every code, its
status and its message; routes raise `ApiError(code, **values)` and never write a message.

`responses(...)` gives a route's `responses=` for OpenAPI from the same table, so what a route
documents is what it can answer."""

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as EnginePoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.api.schemas import ErroOut
from serving.members import DatabaseUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Code:
    status: int
    message: str  # pt-BR, `str.format` with the values the raiser gives


CODES: Final[dict[str, Code]] = {
    # 405: what Starlette answers before any route runs
    "metodo_nao_permitido": Code(405, "Método não permitido nesta rota."),
    # 401, 403
    "nao_autenticado": Code(
        401, "Autenticação necessária: envie Authorization: Bearer <token> ou X-API-Key."
    ),
    "token_invalido": Code(401, "Token inválido ou expirado: entre de novo."),
    "chave_invalida": Code(401, "Chave de API inválida ou revogada."),
    "credenciais_invalidas": Code(401, "Usuário ou senha incorretos."),
    "refresh_token_invalido": Code(
        401, "Refresh token inválido, expirado ou já usado: entre de novo."
    ),
    "corpo_sem_credenciais": Code(
        401,
        "Autenticação necessária: um corpo acima de {limite} bytes só é lido com credenciais "
        "(Authorization: Bearer ou X-API-Key).",
    ),
    "sem_permissao": Code(403, "O perfil '{perfil}' não pode fazer isto."),
    # 404
    "rota_nao_encontrada": Code(404, "Rota não encontrada."),
    "aluno_nao_encontrado": Code(404, "Aluno {aluno_id} não encontrado."),
    "plano_nao_encontrado": Code(404, "Plano não encontrado."),
    "usuario_nao_encontrado": Code(404, "Usuário não encontrado."),
    "dispositivo_nao_encontrado": Code(404, "Dispositivo não encontrado."),
    "job_nao_encontrado": Code(404, "Job não encontrado."),
    "relatorio_nao_encontrado": Code(
        404, "Não há relatório de {data}: peça um com POST /relatorios/diario."
    ),
    "armazem_nao_construido": Code(
        404, "Sem risco de churn para este aluno: o armazém ainda não foi construído."
    ),
    "aluno_sem_risco": Code(
        404, "Sem risco de churn para este aluno: ele não está ativo, então não tem risco."
    ),
    "sem_modelo_campeao": Code(
        404,
        "Sem risco de churn para este aluno: ainda não há modelo campeão "
        "(POST /admin/atualizar-modelo treina um).",
    ),
    "lote_alunos_nao_encontrados": Code(
        404, "Nenhum evento aceito: {quantos} evento(s) de aluno não encontrado (veja erros)."
    ),
    # 409
    "aluno_inativo": Code(409, "Aluno {aluno_id} está inativo."),
    "aluno_ja_ativo": Code(409, "O aluno já está ativo."),
    "aluno_ja_inativo": Code(409, "O aluno já está inativo."),
    "email_ja_cadastrado": Code(409, "E-mail já cadastrado."),
    "email_ou_ref_ja_cadastrado": Code(409, "E-mail ou aluno_ref já cadastrado."),
    "usuario_ja_existe": Code(409, "Nome de usuário já em uso."),
    "alteracao_de_si_mesmo": Code(409, "Você não pode desativar nem rebaixar a si mesmo."),
    "plano_ja_existe": Code(409, "Já existe um plano com este nome."),
    "dispositivo_ja_existe": Code(409, "Já existe um dispositivo com este nome."),
    "dispositivo_ja_revogado": Code(409, "Dispositivo já revogado."),
    "lote_alunos_inativos": Code(
        409, "Nenhum evento aceito: {quantos} evento(s) de aluno inativo (veja erros)."
    ),
    "lote_checkin_id_em_conflito": Code(
        409,
        "Nenhum evento aceito: {quantos} evento(s) repetem o checkin_id de outro evento do lote "
        "com outro conteúdo (veja erros).",
    ),
    # 413
    "corpo_grande_demais": Code(
        413, "Corpo da requisição grande demais: esta rota aceita no máximo {limite} bytes."
    ),
    # 422
    "dados_invalidos": Code(422, "Dados inválidos: corrija o que está listado em erros."),
    "json_invalido": Code(
        422,
        "JSON inválido: envie JSON em UTF-8 (NaN, Infinity, números fora do intervalo e "
        "surrogates isolados não são JSON).",
    ),
    "checkin_no_futuro": Code(422, "ocorrido_em está no futuro (confira o relógio do quiosque)."),
    "checkin_antigo_demais": Code(
        422, "ocorrido_em tem mais de 30 dias: use a importação de histórico."
    ),
    "lote_eventos_invalidos": Code(
        422, "Nenhum evento aceito: {quantos} evento(s) inválido(s) (veja erros)."
    ),
    "plano_inativo": Code(422, "plano_id {plano_id} não é um plano ativo."),
    "plano_sintetico_inativo": Code(422, "O plano '{plano}' não é um plano ativo."),
    "perfil_sintetico_invalido": Code(
        422,
        "Perfil inválido: confira visitas_semana, duracao, semanas, dias_desde_ultima, nome e "
        "email.",
    ),
    "periodo_invertido": Code(422, "{inicio} é posterior a {fim}."),
    "periodo_longo_demais": Code(422, "Período maior que {dias} dias."),
    "dia_fora_dos_dados": Code(
        422,
        "{campo} {dia} {motivo}: escolha um dia de {primeiro} (o primeiro check-in, ou a "
        "primeira matrícula) a {hoje} (hoje, {fuso}).",
    ),
    # 429
    "muitas_tentativas": Code(429, "Muitas tentativas com falha: tente de novo em {segundos} s."),
    "fila_de_jobs_cheia": Code(
        429,
        "Já há {limite} jobs na fila ou em execução, o máximo permitido (max_pending_jobs): "
        "tente de novo quando um terminar.",
    ),
    # 500, 503
    "erro_interno": Code(500, "Erro interno: tente de novo; se persistir, avise o suporte."),
    "banco_indisponivel": Code(503, "Banco de dados indisponível: tente de novo em instantes."),
    "servidor_ocupado": Code(503, "Servidor ocupado: tente de novo em instantes."),
    "servico_indisponivel": Code(
        503,
        "Mensageria indisponível, o evento não foi aceito: reenvie com o mesmo checkin_id.",
    ),
    "job_nao_enfileirado": Code(
        503, "Mensageria indisponível: o job não foi enfileirado (está como falho)."
    ),
    "senhas_em_excesso": Code(
        503, "Muitas verificações de senha ao mesmo tempo: tente de novo em instantes."
    ),
    "registro_de_modelos_indisponivel": Code(
        503,
        "Registro de modelos (MLflow) indisponível: o aluno não pôde ser pontuado agora; tente "
        "de novo em instantes.",
    ),
}

# What an HTTPException that is not ours (raised by FastAPI or Starlette) means.
_CODE_BY_STATUS: Final[dict[int, str]] = {
    401: "nao_autenticado",
    404: "rota_nao_encontrada",
    405: "metodo_nao_permitido",
    422: "dados_invalidos",
    503: "servidor_ocupado",
}

# How long a client should wait before retrying after an outage (Retry-After, seconds).
DATABASE_RETRY_SECONDS: Final = 5
BUSY_RETRY_SECONDS: Final = 2
MODEL_REGISTRY_RETRY_SECONDS: Final = 30


class ApiError(StarletteHTTPException):
    """A refusal from `CODES`. A Starlette HTTPException, so that FastAPI's body parsing lets it
    through (body_limits.py raises one from `receive`) and its handler below answers it."""

    def __init__(
        self,
        codigo: str,
        *,
        erros: Iterable[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **values: Any,
    ) -> None:
        code = CODES[codigo]
        super().__init__(
            code.status,
            detail=code.message.format(**values),
            headers=dict(headers) if headers else None,
        )
        self.codigo = codigo
        self.erros = [dict(item) for item in erros] if erros is not None else None


def number(value: int) -> str:
    """An integer as pt-BR writes it: 65.536."""
    return f"{value:,}".replace(",", ".")


def item(local: Iterable[str | int], mensagem: str, codigo: str, **extra: Any) -> dict[str, Any]:
    """One entry of `erros`; `extra` (aluno_id, checkin_id, entrada) only when it has a value."""
    entry: dict[str, Any] = {"local": list(local), "mensagem": mensagem, "codigo": codigo}
    entry.update({key: value for key, value in extra.items() if value is not None})
    return entry


def message(codigo: str, **values: Any) -> str:
    """A code's message alone, for an entry of `erros`."""
    return CODES[codigo].message.format(**values)


def error_body(
    codigo: str, detail: str, erros: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"detail": detail, "codigo": codigo, "erros": jsonable_encoder(erros)}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(error.codigo, str(error.detail), error.erros),
        status_code=error.status_code,
        headers=error.headers,
    )


def plain_response(codigo: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The answer for a code without values, for the middlewares that answer outside FastAPI."""
    return error_response(ApiError(codigo, headers=headers))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, ApiError):
        return error_response(exc)
    if exc.status_code == 400:
        # FastAPI's only 400: a body it cannot even decode (not UTF-8). Every other body that
        # is not JSON is a 422 `json_invalido`: one status for one mistake.
        return error_response(ApiError("json_invalido", headers=exc.headers))
    # FastAPI's and Starlette's own (unknown route, wrong method): their English detail is
    # replaced by the code's message for that status.
    codigo = _CODE_BY_STATUS.get(exc.status_code)
    if codigo is None:
        log.warning("HTTPException %d without a code: %s", exc.status_code, exc.detail)
        body = error_body("requisicao_recusada", f"Requisição recusada (HTTP {exc.status_code}).")
    else:
        body = error_body(codigo, CODES[codigo].message)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DBAPIError) and not (
        isinstance(exc, OperationalError) or exc.connection_invalidated
    ):
        raise exc  # a bug, not an outage: serving/api/failures.py answers it as a 500
    # The driver's message, not SQLAlchemy's: that one quotes the statement's parameters.
    reason = exc.orig if isinstance(exc, DBAPIError) else exc
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, reason)
    return plain_response("banco_indisponivel", {"Retry-After": str(DATABASE_RETRY_SECONDS)})


async def _connections_exhausted(request: Request, exc: Exception) -> JSONResponse:
    # Every connection of a pool is in use: the server is busy, not broken.
    log.warning("no database connection free on %s %s: %s", request.method, request.url.path, exc)
    return plain_response("servidor_ocupado", {"Retry-After": str(BUSY_RETRY_SECONDS)})


def install(app: FastAPI) -> None:
    """The handlers that turn every refusal raised inside the app into an ErroOut. Validation
    errors have theirs in serving/api/bad_input.py, unexpected ones serving/api/failures.py."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(EnginePoolTimeout, _connections_exhausted)
    app.add_exception_handler(PoolTimeout, _connections_exhausted)


# --- OpenAPI --------------------------------------------------------------------------------

_DESCRIPTIONS: Final[dict[int, str]] = {
    401: "No credentials, or invalid, expired or revoked ones",
    403: "The caller's role may not do this",
    404: "Not found",
    409: "Conflict with the stored state",
    413: "Body larger than this route takes (or, without credentials, than 4 KiB)",
    422: "Invalid request: `erros` names each field or event",
    429: "Too many requests",
    503: "A service the API needs is unavailable or busy: retry later",
}
ERRO_OUT_REF: Final = "#/components/schemas/ErroOut"
_RETRY_AFTER: Final = {
    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
}


def responses(
    *statuses: int, as_json: bool = False, **descriptions: str
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the given error statuses, each an ErroOut. A description per status can
    be given as `s404="..."`; 429 and 503 document their Retry-After header. `as_json` for a
    route whose own answer is not JSON (a download): FastAPI would give a model the route's
    media type, so the schema is named under application/json instead."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": descriptions.get(f"s{status}", _DESCRIPTIONS[status])
        }
        if as_json:
            entry["content"] = {"application/json": {"schema": {"$ref": ERRO_OUT_REF}}}
        else:
            entry["model"] = ErroOut
        if status in (429, 503):
            entry["headers"] = _RETRY_AFTER
        documented[status] = entry
    return documented


# What every route may answer besides its own refusals: authenticated routes (401, 403; 413 and
# 422 for any request; 503 when PostgreSQL is down or busy). Public routes: PUBLIC.
AUTHENTICATED: Final = (401, 403, 413, 422, 503)
PUBLIC: Final = (413, 422, 503)
