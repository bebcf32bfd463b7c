"""The check-in event as it travels on `checkin_queue`; the consumer re-validates every one."""

import uuid
from datetime import datetime
from typing import Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from serving.vocabulary import CheckinOrigin, CheckinType

MESSAGE_VERSION: Literal[1] = 1


class CheckinEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    checkin_id: uuid.UUID
    aluno_id: int = Field(gt=0, le=2**62)
    tipo: CheckinType
    ocorrido_em: AwareDatetime
    dispositivo: str | None = Field(default=None, max_length=120)
    origem: CheckinOrigin = "kiosk"
    aceito_em: datetime | None = None


class CheckinMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = MESSAGE_VERSION
    eventos: list[CheckinEvent] = Field(min_length=1)


_message_adapter = TypeAdapter(CheckinMessage)


class PoisonMessage(Exception):
    """A message no retry can fix: it goes to the dead-letter queue."""


def encode_checkins(events: list[CheckinEvent]) -> bytes:
    return orjson.dumps(
        {"v": MESSAGE_VERSION, "eventos": [e.model_dump(mode="json") for e in events]}
    )


def decode_checkins(body: bytes) -> list[CheckinEvent]:
    try:
        return _message_adapter.validate_json(body).eventos
    except ValidationError as exc:
        raise PoisonMessage(f"invalid check-in message: {exc.error_count()} error(s)") from exc
