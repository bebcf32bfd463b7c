"""The last days of a simulated gym as kiosk traffic: posted through `POST /aluno/checkin/lote`
with a kiosk key, then waited for until the consumer has written them to PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from serving import rules
from serving.simulator.generate import ReplayVisit
from serving.vocabulary import ENTRY, EXIT

if TYPE_CHECKING:
    from serving.simulator.gym import SimulationResult


def _replay_events(replay: list[ReplayVisit], ids: dict[str, int], seed: int) -> Iterator[dict]:
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"gympulse-simulator/{seed}")
    for visit in replay:
        aluno_id = ids[visit.aluno_ref]
        taps = [(ENTRY, visit.entrada)] + ([(EXIT, visit.saida)] if visit.saida else [])
        for tipo, when in taps:
            yield {
                "checkin_id": str(uuid.uuid5(namespace, f"{visit.aluno_ref}/{tipo}/{when}")),
                "aluno_id": aluno_id,
                "tipo": tipo,
                "ocorrido_em": when.isoformat(),
            }


def post_batches(
    client,
    events: list[dict],
    *,
    api_key: str,
    chunk: int = rules.BULK_MAX_EVENTS,
    attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Post events in chunks to `POST /aluno/checkin/lote` as a kiosk; a 503 or a lost
    connection is retried with the same body (same checkin_ids, so nothing is doubled).
    Returns how many events were accepted."""
    import httpx

    accepted = 0
    headers = {"X-API-Key": api_key}
    for i in range(0, len(events), chunk):
        batch = events[i : i + chunk]
        error = ""
        for attempt in range(attempts):
            try:
                response = client.post(
                    "/aluno/checkin/lote", json={"checkins": batch}, headers=headers
                )
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 202:
                    accepted += response.json()["aceitos"]
                    break
                if response.status_code != 503:
                    raise RuntimeError(
                        f"the API refused a batch: {response.status_code} {response.text[:500]}"
                    )
                error = response.text[:200]
            sleep(min(10.0, 0.5 * 2**attempt))
        else:
            raise RuntimeError(f"batch {i // chunk} not accepted after {attempts} tries: {error}")
    return accepted


def replay_through_api(
    result: SimulationResult,
    replay: list[ReplayVisit],
    database_url: str,
    api_url: str,
    log: Callable[[str], None] = print,
    *,
    client=None,
    chunk: int = rules.BULK_MAX_EVENTS,
    wait_seconds: float = 120,
) -> None:
    """Post the held-back check-ins as a kiosk through `POST /aluno/checkin/lote`, then wait
    until the consumer has written them (counts and times go into `result`). `client` (an httpx.Client with a base URL) defaults to one on `api_url`."""
    import httpx

    from serving.users import create_device_key

    started = time.monotonic()
    ids = _member_ids(database_url, sorted({v.aluno_ref for v in replay}))
    replay = sorted(replay, key=lambda v: v.entrada)
    events = list(_replay_events(replay, ids, result.summary.seed))
    key = create_device_key(
        f"simulador-{uuid.uuid4().hex[:8]}", "Simulador", database_url=database_url
    )
    if client is None:
        with httpx.Client(base_url=api_url, timeout=120) as own:
            accepted = post_batches(own, events, api_key=key, chunk=chunk)
    else:
        accepted = post_batches(client, events, api_key=key, chunk=chunk)
    result.replay_accepted = accepted
    log(f"replayed {accepted} check-ins through {api_url}/aluno/checkin/lote")
    stored = _wait_stored(database_url, [e["checkin_id"] for e in events], wait_seconds)
    result.replay_stored = stored
    result.replay_seconds = time.monotonic() - started
    hint = "" if stored >= accepted else " (is `gympulse worker checkins` running?)"
    log(f"{stored} of {accepted} replayed check-ins in PostgreSQL{hint}")


def _member_ids(database_url: str, refs: list[str]) -> dict[str, int]:
    import psycopg

    from serving.db.engine import libpq_url

    with psycopg.connect(libpq_url(database_url)) as conn:
        rows = conn.execute("select aluno_ref, id from alunos where aluno_ref = any(%s)", (refs,))
        ids: dict[str, int] = dict(rows.fetchall())
    missing = [r for r in refs if r not in ids]
    if missing:
        raise RuntimeError(f"{len(missing)} replay member(s) not imported, e.g. {missing[0]}")
    return ids


def _wait_stored(database_url: str, checkin_ids: list[str], wait_seconds: float) -> int:
    """How many of the events are in PostgreSQL, once all are or after `wait_seconds`."""
    import psycopg

    from serving.db.engine import libpq_url

    deadline = time.monotonic() + wait_seconds
    stored = 0
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        while time.monotonic() < deadline:
            (stored,) = conn.execute(
                "select count(*) from checkins where checkin_id = any(%s::uuid[])",
                (checkin_ids,),
            ).fetchone() or (0,)
            if stored >= len(checkin_ids):
                break
            time.sleep(1)
    return stored
