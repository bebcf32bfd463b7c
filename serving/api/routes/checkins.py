import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, status

from serving.api.deps import CheckinWriterDep, MembersDep, Principal, PublisherDep, SettingsDep
from serving.api.schemas import (
    BadInput,
    BatchRefused,
    CheckinAccepted,
    CheckinBatchAccepted,
    CheckinBatchIn,
    CheckinIn,
    Message,
    ValidationErrors,
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
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": Message,
        "description": "The broker did not confirm in time: retry with the same checkin_id",
    }
}


def _event(item: CheckinIn, who: Principal, settings: Settings, now: datetime) -> CheckinEvent:
    when = item.ocorrido_em or now
    if when > now + timedelta(seconds=settings.checkin_max_future_seconds):
        raise ValueError("ocorrido_em is in the future (check the kiosk clock)")
    if when < now - MAX_AGE:
        raise ValueError("ocorrido_em is more than 30 days old: use the history import")
    return CheckinEvent(
        checkin_id=item.checkin_id or uuid.uuid4(),
        aluno_id=item.aluno_id,
        tipo=item.tipo,
        ocorrido_em=when,
        dispositivo=who.name if who.is_kiosk else (item.dispositivo or f"manual:{who.name}"),
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
    responses={
        404: {"model": Message, "description": "Unknown member"},
        409: {"model": Message, "description": "Member is inactive"},
        422: {"model": BadInput, "description": "Invalid event, or ocorrido_em out of range"},
        **UNAVAILABLE,
    },
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
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    states = await _member_states(members, {body.aluno_id})
    if states is not None and body.aluno_id not in states:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"member {body.aluno_id} not found")
    if states is not None and not states[body.aluno_id]:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="member is inactive")
    try:
        await publisher.publish(
            CHECKIN_QUEUE, encode_checkins([event]), message_id=str(event.checkin_id)
        )
    except PublishFailed as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from exc
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
    responses={
        404: {"model": BatchRefused, "description": "Some members are unknown (nothing accepted)"},
        409: {
            "model": BatchRefused,
            "description": "Some members are inactive, or a checkin_id is reused in the batch "
            "for a different event (nothing accepted)",
        },
        422: {
            "model": BatchRefused | ValidationErrors,
            "description": "Some events are invalid (nothing accepted)",
        },
        **UNAVAILABLE,
    },
)
async def post_checkin_batch(
    body: CheckinBatchIn,
    members: MembersDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    who: CheckinWriterDep,
) -> CheckinBatchAccepted:
    """Up to 10,000 events at once, e.g. a kiosk that was offline (kiosk, admin, recepcao).
    All or nothing: if any event is refused, none is accepted and `detail` lists each refused
    event by index. An event repeated in the batch (same `checkin_id`, member, type and time) is
    one check-in: `aceitos` counts distinct events and `duplicados` the repeats. The same
    `checkin_id` for different events is a 409 naming each later one. Answers 202 once the broker
    confirmed every event."""
    now = datetime.now(UTC)
    parsed: list[CheckinEvent] = []
    invalid = []
    for index, item in enumerate(body.checkins):
        try:
            parsed.append(_event(item, who, settings, now))
        except ValueError as exc:
            invalid.append({"index": index, "aluno_id": item.aluno_id, "erro": str(exc)})
    if invalid:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=invalid)
    events, repeated, conflicts = _collapse_repeats(parsed)
    if conflicts:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=conflicts)
    states = await _member_states(members, {e.aluno_id for e in events})
    if states is None:
        states = {e.aluno_id: True for e in events}
    unknown = [
        {"index": i, "aluno_id": e.aluno_id, "erro": "member not found"}
        for i, e in enumerate(events)
        if e.aluno_id not in states
    ]
    if unknown:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=unknown)
    inactive = [
        {"index": i, "aluno_id": e.aluno_id, "erro": "member is inactive"}
        for i, e in enumerate(events)
        if not states[e.aluno_id]
    ]
    if inactive:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=inactive)
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
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from exc
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
            {
                "index": index,
                "aluno_id": event.aluno_id,
                "checkin_id": str(event.checkin_id),
                "erro": f"checkin_id repeats event {earlier} with a different "
                f"{', '.join(differing)}",
            }
        )
    return distinct, list(repeated), conflicts
