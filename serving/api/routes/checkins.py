import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, status

from serving.api import errors
from serving.api.deps import CheckinWriterDep, MembersDep, Principal, PublisherDep, SettingsDep
from serving.api.errors import ApiError, item, message
from serving.api.schemas import (
    CheckinAccepted,
    CheckinBatchAccepted,
    CheckinBatchIn,
    CheckinIn,
)
from serving.config import Settings
from serving.members import DatabaseUnavailable, MemberDirectory
from serving.messaging.events import CheckinEvent, encode_checkins
from serving.messaging.publisher import PublishFailed
from serving.messaging.topology import CHECKIN_QUEUE

log = logging.getLogger(__name__)
router = APIRouter(prefix="/aluno", tags=["checkins"])

# A kiosk that was offline may post late; anything older belongs to the history import.
MAX_AGE = timedelta(days=30)
UNAVAILABLE = (
    "The broker did not confirm in time (`servico_indisponivel`), or PostgreSQL is busy: retry "
    "with the same checkin_id"
)


class _OutOfRange(ValueError):
    """An event's time the API does not take; `codigo` says which way (CODES in errors.py)."""

    def __init__(self, codigo: str) -> None:
        super().__init__(codigo)
        self.codigo = codigo


def _event(body: CheckinIn, who: Principal, settings: Settings, now: datetime) -> CheckinEvent:
    when = body.ocorrido_em or now
    if when > now + timedelta(seconds=settings.checkin_max_future_seconds):
        raise _OutOfRange("checkin_no_futuro")
    if when < now - MAX_AGE:
        raise _OutOfRange("checkin_antigo_demais")
    return CheckinEvent(
        checkin_id=body.checkin_id or uuid.uuid4(),
        aluno_id=body.aluno_id,
        tipo=body.tipo,
        ocorrido_em=when,
        dispositivo=who.name if who.is_kiosk else (body.dispositivo or f"manual:{who.name}"),
        origem="kiosk" if who.is_kiosk else "manual",
        aceito_em=now,
    )


async def _member_states(members: MemberDirectory, ids: set[int]) -> dict[int, bool] | None:
    """Active flag per known member; None when PostgreSQL cannot be asked.

    The door must keep working through a database outage: events are then accepted unchecked,
    and the consumer parks those of unknown members in the dead-letter queue when it can write.
    """
    try:
        return await members.states(ids)
    except DatabaseUnavailable as exc:
        log.warning("accepting %d check-in(s) unchecked, PostgreSQL unavailable: %s", len(ids), exc)
        return None


@router.post(
    "/checkin",
    response_model=CheckinAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors.responses(
        *errors.AUTHENTICATED,
        404,
        409,
        s404="Unknown member (`aluno_nao_encontrado`)",
        s409="Member is inactive (`aluno_inativo`)",
        s422="Invalid event (`dados_invalidos`), or ocorrido_em out of range "
        "(`checkin_no_futuro`, `checkin_antigo_demais`)",
        s503=UNAVAILABLE,
    ),
)
async def post_checkin(
    body: CheckinIn,
    members: MembersDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    who: CheckinWriterDep,
) -> CheckinAccepted:
    """Record an entry or exit (kiosk API key, admin, recepcao). Answers 202 once the broker has
    the event on disk; the consumer writes it to PostgreSQL. Sending the same event again with
    the same `checkin_id` is safe: it is one check-in. A `checkin_id` already used for another
    event (member, type or time) is not stored: the consumer parks it in the dead-letter queue
    as `checkin_id_conflict` (`gympulse dlq list`, counted in `/status`)."""
    # No lookup of the id here: this route's throughput is benchmarked, the consumer compares.
    now = datetime.now(UTC)
    try:
        event = _event(body, who, settings, now)
    except _OutOfRange as exc:
        raise ApiError(exc.codigo) from exc
    states = await _member_states(members, {body.aluno_id})
    if states is not None and body.aluno_id not in states:
        raise ApiError("aluno_nao_encontrado", aluno_id=body.aluno_id)
    if states is not None and not states[body.aluno_id]:
        raise ApiError("aluno_inativo", aluno_id=body.aluno_id)
    try:
        await publisher.publish(
            CHECKIN_QUEUE, encode_checkins([event]), message_id=str(event.checkin_id)
        )
    except PublishFailed as exc:
        raise _broker_unavailable(exc) from exc
    return CheckinAccepted(
        checkin_id=event.checkin_id,
        aluno_id=event.aluno_id,
        tipo=event.tipo,
        ocorrido_em=event.ocorrido_em,
    )


@router.post(
    "/checkin/lote",
    response_model=CheckinBatchAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors.responses(
        *errors.AUTHENTICATED,
        404,
        409,
        s404="Some members are unknown (`lote_alunos_nao_encontrados`, nothing accepted)",
        s409="Some members are inactive (`lote_alunos_inativos`), or a checkin_id is reused in "
        "the batch for a different event (`lote_checkin_id_em_conflito`); nothing accepted",
        s422="Some events are invalid (`dados_invalidos`, `lote_eventos_invalidos`; nothing "
        "accepted)",
        s503=UNAVAILABLE,
    ),
)
async def post_checkin_batch(
    body: CheckinBatchIn,
    members: MembersDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    who: CheckinWriterDep,
) -> CheckinBatchAccepted:
    """Up to 10,000 events at once, e.g. a kiosk that was offline (kiosk, admin, recepcao).
    All or nothing: if any event is refused, none is accepted and `erros` lists each refused
    event by its place in the batch (`local`: `["body", "checkins", index]`). An event repeated in the batch (same `checkin_id`, member, type and time) is
    one check-in: `aceitos` counts distinct events and `duplicados` the repeats. The same
    `checkin_id` for different events is a 409 naming each later one. Answers 202 once the broker
    confirmed every event."""
    now = datetime.now(UTC)
    parsed: list[CheckinEvent] = []
    invalid = []
    for index, event_in in enumerate(body.checkins):
        try:
            parsed.append(_event(event_in, who, settings, now))
        except _OutOfRange as exc:
            invalid.append(_refused(index, event_in.aluno_id, exc.codigo))
    _refuse_batch("lote_eventos_invalidos", invalid)
    events, repeated, conflicts = _collapse_repeats(parsed)
    _refuse_batch("lote_checkin_id_em_conflito", conflicts)
    states = await _member_states(members, {e.aluno_id for e in events})
    if states is None:
        states = {e.aluno_id: True for e in events}
    # Refusals name the event's place in the batch sent, not among the distinct events.
    place = {e.checkin_id: i for i, e in reversed(list(enumerate(parsed)))}
    unknown = [
        _refused(place[e.checkin_id], e.aluno_id, "aluno_nao_encontrado")
        for e in events
        if e.aluno_id not in states
    ]
    _refuse_batch("lote_alunos_nao_encontrados", unknown)
    inactive = [
        _refused(place[e.checkin_id], e.aluno_id, "aluno_inativo")
        for e in events
        if not states[e.aluno_id]
    ]
    _refuse_batch("lote_alunos_inativos", inactive)
    size = settings.bulk_events_per_message
    chunks = [events[i : i + size] for i in range(0, len(events), size)]
    try:
        await asyncio.gather(
            *(
                publisher.publish(
                    CHECKIN_QUEUE, encode_checkins(chunk), message_id=str(chunk[0].checkin_id)
                )
                for chunk in chunks
            )
        )
    except PublishFailed as exc:
        raise _broker_unavailable(exc) from exc
    return CheckinBatchAccepted(
        aceitos=len(events),
        checkin_ids=[e.checkin_id for e in events],
        duplicados=len(parsed) - len(events),
        checkin_ids_duplicados=repeated,
    )


def _collapse_repeats(
    events: list[CheckinEvent],
) -> tuple[list[CheckinEvent], list[uuid.UUID], list[dict[str, Any]]]:
    """The batch's distinct events (first occurrences, in order), the ids that came more than
    once as the same event, and each event that reuses an earlier event's id with other content
    (member, type or time: `CheckinContent`), named like the other refusals by index."""
    first: dict[uuid.UUID, int] = {}
    distinct: list[CheckinEvent] = []
    repeated: dict[uuid.UUID, None] = {}  # insertion-ordered set
    conflicts: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        earlier = first.get(event.checkin_id)
        if earlier is None:
            first[event.checkin_id] = index
            distinct.append(event)
            continue
        differing = events[earlier].content.differences(event.content)
        if not differing:
            repeated[event.checkin_id] = None
            continue
        conflicts.append(
            item(
                ["body", "checkins", index],
                f"O checkin_id repete o do evento {earlier} com outro(s) valor(es) em: "
                f"{', '.join(differing)}.",
                "checkin_id_em_conflito",
                aluno_id=event.aluno_id,
                checkin_id=event.checkin_id,
            )
        )
    return distinct, list(repeated), conflicts


def _refused(index: int, aluno_id: int, codigo: str) -> dict[str, Any]:
    """The `erros` entry of a refused bulk event, with the code's message."""
    text = message(codigo, aluno_id=aluno_id)
    return item(["body", "checkins", index], text, codigo, aluno_id=aluno_id)


def _refuse_batch(codigo: str, refused: list[dict[str, Any]]) -> None:
    if refused:
        raise ApiError(codigo, erros=refused, quantos=len(refused))


def _broker_unavailable(exc: PublishFailed) -> ApiError:
    # The broker's own reason is for the log; the kiosk only needs to retry.
    log.warning("check-in not accepted, broker unavailable: %s", exc)
    return ApiError("servico_indisponivel", headers={"Retry-After": "2"})
