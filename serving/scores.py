"""Where churn scores go: appended to `previsoes_churn` (history kept) in one COPY, then Redis —
each member's risk (what `GET /aluno/{id}/risco-churn` answers, 24 h), the ranked at-risk list
and the KPI summary the dashboard reads. Members cached from an earlier batch and not in this
one (cancelled since) are dropped, so no stale risk outlives a rescoring."""

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
import redis
import sqlalchemy as sa
from pydantic import TypeAdapter

from serving.api.schemas import RiscoChurnOut
from serving.cache import (
    PREFIX,
    VERSION_TTL_SECONDS,
    churn_key,
    invalidate_members_sync,
    version_key,
)

log = logging.getLogger(__name__)

RISK_LIST_KEY = PREFIX + "risco:lista"
KPI_KEY = PREFIX + "kpis:churn"
LATEST_FIELD = "latest"  # the field GET /aluno/{id}/risco-churn reads
_CHUNK = 2_000


@dataclass(frozen=True)
class ScoredMember:
    aluno_id: int
    probabilidade: float
    faixa_risco: str
    fatores: list[dict[str, Any]]


def store_scores(
    engine: sa.Engine,
    scores: list[ScoredMember],
    *,
    as_of: date,
    model_name: str,
    model_version: str,
    job_id: uuid.UUID | None = None,
    scored_at: datetime | None = None,
) -> datetime:
    """Append the batch in one transaction; returns the batch's `calculado_em`."""
    scored_at = scored_at or datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        with (
            raw.cursor() as cursor,
            cursor.copy(
                "copy previsoes_churn (aluno_id, data_referencia, probabilidade, faixa_risco, "
                "modelo_nome, modelo_versao, fatores, job_id, calculado_em) from stdin"
            ) as copy,
        ):
            for s in scores:
                copy.write_row(
                    (
                        s.aluno_id,
                        as_of,
                        s.probabilidade,
                        s.faixa_risco,
                        model_name,
                        model_version,
                        orjson.dumps(s.fatores).decode(),
                        job_id,
                        scored_at,
                    )
                )
        raw.commit()
    finally:
        raw.close()
    return scored_at


class _RiskBodies:
    """What `GET /aluno/{id}/risco-churn` answers for a score of this batch, as JSON. Built by
    hand for speed (100,000 per batch), in `RiscoChurnOut`'s field order and formats — the
    model validates one body per batch, so a drift between the two fails loudly."""

    def __init__(self, as_of: date, model_name: str, version: str, at: datetime) -> None:
        self.common = {
            "modelo_nome": model_name,
            "modelo_versao": version,
            "data_referencia": as_of.isoformat(),
            "calculado_em": TypeAdapter(datetime).dump_python(at, mode="json"),
        }
        self.checked = False

    def __call__(self, s: ScoredMember) -> dict:
        body = {
            "aluno_id": s.aluno_id,
            "probabilidade": s.probabilidade,
            "faixa_risco": s.faixa_risco,
            "fatores": s.fatores,
            **self.common,
        }
        if not self.checked:
            assert RiscoChurnOut.model_validate(body).model_dump(mode="json") == body, body
            self.checked = True
        return body


# Per member: version bumped (refuses a concurrent read's older answer, see cache.set_field),
# then the answer written with its TTL. KEYS: churn hash, version key, per member.
_WRITE_SCRIPT = """
local ttl, version_ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, #KEYS, 2 do
    redis.call('INCR', KEYS[i + 1])
    redis.call('EXPIRE', KEYS[i + 1], version_ttl)
    redis.call('HSET', KEYS[i], 'latest', ARGV[2 + (i + 1) / 2])
    redis.call('EXPIRE', KEYS[i], ttl)
end
return #KEYS / 2
"""


def kpi_summary(
    scores: list[ScoredMember], *, as_of: date, model_name: str, version: str, at: datetime
) -> dict[str, Any]:
    tiers = Counter(s.faixa_risco for s in scores)
    reasons = Counter(f["fator"] for s in scores if s.faixa_risco == "alto" for f in s.fatores)
    total = len(scores)
    return {
        "data_referencia": as_of.isoformat(),
        "calculado_em": at.isoformat(),
        "modelo_nome": model_name,
        "modelo_versao": version,
        "alunos_pontuados": total,
        "por_faixa": {tier: tiers.get(tier, 0) for tier in ("alto", "medio", "baixo")},
        "probabilidade_media": round(sum(s.probabilidade for s in scores) / total, 4)
        if total
        else 0,
        # The sum of probabilities is the number of cancellations the model expects in 30 days.
        "cancelamentos_esperados_30d": round(sum(s.probabilidade for s in scores), 1),
        "fatores_alto_risco": dict(reasons.most_common()),
    }


def refresh_cache(
    client: redis.Redis,
    scores: list[ScoredMember],
    *,
    names: Callable[[list[int]], dict[int, str]],
    as_of: date,
    model_name: str,
    version: str,
    scored_at: datetime,
    ttl: int,
    list_size: int,
) -> dict[str, Any]:
    """Write the batch to Redis; returns the KPI summary. Raises redis errors to the caller.
    `names` looks up the names of the members on the at-risk list."""
    scored = {s.aluno_id for s in scores}
    stale = set()
    for key in client.scan_iter(match=churn_key("*"), count=10_000):
        aluno_id = int(key.rsplit(b":", 1)[1])
        if aluno_id not in scored:
            stale.add(aluno_id)
    invalidate_members_sync(client, stale)
    body_of = _RiskBodies(as_of, model_name, version, scored_at)
    write = client.register_script(_WRITE_SCRIPT)
    for start in range(0, len(scores), _CHUNK):
        chunk = scores[start : start + _CHUNK]
        keys = [k for s in chunk for k in (churn_key(s.aluno_id), version_key(s.aluno_id))]
        write(
            keys=keys, args=[ttl, VERSION_TTL_SECONDS, *(orjson.dumps(body_of(s)) for s in chunk)]
        )
    ranked = sorted(scores, key=lambda s: (-s.probabilidade, s.aluno_id))[:list_size]
    named = names([s.aluno_id for s in ranked])
    at_risk = [body_of(s) | {"nome": named.get(s.aluno_id, "")} for s in ranked]
    summary = kpi_summary(scores, as_of=as_of, model_name=model_name, version=version, at=scored_at)
    with client.pipeline(transaction=True) as pipe:
        pipe.set(RISK_LIST_KEY, orjson.dumps(at_risk), ex=ttl)
        pipe.set(KPI_KEY, orjson.dumps(summary), ex=ttl)
        pipe.execute()
    log.info("cache refreshed: %d members, %d stale dropped", len(scores), len(stale))
    return summary
