import asyncio
import time
from importlib.metadata import version

import redis
from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from serving.api import errors
from serving.api.deps import CacheDep, ReaderDep, SessionDep, SettingsDep
from serving.api.schemas import (
    CacheStatusOut,
    ErroOut,
    HealthOut,
    QueueDepth,
    ServiceStatus,
    StatusOut,
)
from serving.cache import STATS_KEY
from serving.messaging.dead_letters import reason_counts_key
from serving.messaging.topology import WORK_QUEUES, dead_letter_queue

router = APIRouter(tags=["status"])
CHECK_TIMEOUT = 2.0


@router.get("/health", response_model=HealthOut, responses=errors.responses(413))
async def health() -> dict[str, str]:
    """Liveness probe for load balancers: the process answers. No dependencies checked."""
    return {"status": "ok"}


async def _postgres(session) -> tuple[ServiceStatus, str | None]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            revision = await session.scalar(text("select version_num from alembic_version"))
    except Exception as exc:
        return ServiceStatus(status="down", detalhe=type(exc).__name__), None
    return ServiceStatus(status="ok", latencia_ms=(time.perf_counter() - started) * 1000), revision


async def _rabbitmq(request: Request) -> tuple[ServiceStatus, list[QueueDepth]]:
    publisher = request.app.state.publisher
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            if publisher.connection is None:
                await publisher.connect()
            channel = await publisher.connection.channel()
            try:
                depths = []
                no_consumer = []
                for queue in WORK_QUEUES:
                    main = await channel.declare_queue(queue, passive=True)
                    dlq = await channel.declare_queue(dead_letter_queue(queue), passive=True)
                    depths.append(
                        QueueDepth(
                            fila=queue,
                            mensagens=main.declaration_result.message_count,
                            consumidores=main.declaration_result.consumer_count,
                            dead_letter=dlq.declaration_result.message_count,
                        )
                    )
                    if main.declaration_result.consumer_count == 0:
                        no_consumer.append(queue)
            finally:
                await channel.close()
    except Exception as exc:
        return ServiceStatus(status="down", detalhe=type(exc).__name__), []
    latency = (time.perf_counter() - started) * 1000
    if no_consumer:
        detail = "no consumer on: " + ", ".join(no_consumer)
        return ServiceStatus(status="degraded", detalhe=detail, latencia_ms=latency), depths
    return ServiceStatus(status="ok", latencia_ms=latency), depths


async def _dead_letter_reasons(cache) -> dict[str, dict[str, int]]:
    """Messages parked per queue and reason since Redis kept the counts (the consumer counts
    them as it parks them); {} when Redis does not answer: the depths above still do."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            pipe = cache.client.pipeline(transaction=False)
            for queue in WORK_QUEUES:
                pipe.hgetall(reason_counts_key(queue))
            answers = await pipe.execute()
    except (redis.RedisError, OSError, TimeoutError):
        return {}
    return {
        queue: {_text(reason): int(n) for reason, n in counts.items()}
        for queue, counts in zip(WORK_QUEUES, answers, strict=True)
        if counts
    }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _redis(cache) -> ServiceStatus:
    try:
        latency = await cache.ping()
    except (redis.RedisError, OSError) as exc:
        return ServiceStatus(
            status="degraded",
            detalhe=f"cache unavailable, serving from PostgreSQL ({type(exc).__name__})",
        )
    return ServiceStatus(status="ok", latencia_ms=latency)


@router.get(
    "/status",
    response_model=StatusOut,
    responses={
        **errors.responses(*errors.AUTHENTICATED),
        503: {
            "model": StatusOut | ErroOut,
            "description": "PostgreSQL or RabbitMQ is down (StatusOut); ErroOut when the "
            "caller's credentials cannot be checked without PostgreSQL",
        },
    },
)
async def system_status(
    request: Request,
    response: Response,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    _: ReaderDep,
) -> StatusOut:
    """PostgreSQL, RabbitMQ (queue and dead-letter depths, messages parked by reason), Redis and
    the app version (admin, analista). `degraded` means the platform works with reduced service
    (no cache, or a queue without consumer); `down` (HTTP 503) means check-ins cannot be accepted
    or stored."""
    (postgres, revision), (rabbit, queues), cache_status, parked = await asyncio.gather(
        _postgres(session), _rabbitmq(request), _redis(cache), _dead_letter_reasons(cache)
    )
    for depth in queues:
        depth.dead_letter_motivos = parked.get(depth.fila, {})
    states = {postgres.status, rabbit.status, cache_status.status}
    overall = "down" if "down" in states else "degraded" if "degraded" in states else "ok"
    if overall == "down":
        response.status_code = 503
    return StatusOut(
        status=overall,
        versao=version("gympulse"),
        ambiente=settings.environment,
        postgres=postgres,
        rabbitmq=rabbit,
        redis=cache_status,
        filas=queues,
        migracao=revision,
    )


@router.get(
    "/status/cache",
    response_model=CacheStatusOut,
    responses=errors.responses(*errors.AUTHENTICATED),
)
async def cache_status(cache: CacheDep, settings: SettingsDep, _: ReaderDep) -> CacheStatusOut:
    """Cache hits and misses by kind (frequency, churn risk), keys, memory and TTLs
    (admin, analista)."""
    ttls = {
        "frequencia": settings.frequency_cache_seconds,
        "risco-churn": settings.churn_cache_seconds,
    }
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            client = cache.client
            stats = await client.hgetall(STATS_KEY)
            keys = await client.dbsize()
            memory = await client.info("memory")
    except (redis.RedisError, OSError, TimeoutError) as exc:
        return CacheStatusOut(
            status="degraded",
            hits=0,
            misses=0,
            taxa_acerto=None,
            chaves=0,
            memoria_usada=None,
            por_tipo={},
            ttl_segundos=ttls,
            detalhe=f"cache unavailable, serving from PostgreSQL ({type(exc).__name__})",
        )
    by_kind: dict[str, dict[str, int]] = {}
    for raw_field, raw_value in stats.items():
        name = raw_field.decode() if isinstance(raw_field, bytes) else raw_field
        outcome, _colon, kind = name.partition(":")
        by_kind.setdefault(kind, {"hits": 0, "misses": 0})[outcome] = int(raw_value)
    hits = sum(k["hits"] for k in by_kind.values())
    misses = sum(k["misses"] for k in by_kind.values())
    return CacheStatusOut(
        status="ok",
        hits=hits,
        misses=misses,
        taxa_acerto=round(hits / (hits + misses), 4) if hits + misses else None,
        chaves=keys,
        memoria_usada=memory.get("used_memory_human"),
        por_tipo=by_kind,
        ttl_segundos=ttls,
    )
