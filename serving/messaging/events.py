"""The check-in event as it travels on `checkin_queue`; the consumer re-validates every one.

Also what makes two events with the same `checkin_id` one check-in (`CheckinContent`): the API
collapses them inside a bulk, the consumer compares them with the stored row, and both call a
reused id with other content a conflict."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from serving import vocabulary
from serving.vocabulary import CheckinOrigin, CheckinType, DeadLetterReason

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

    @property
    def content(self) -> "CheckinContent":
        return CheckinContent.of(self.aluno_id, self.tipo, self.ocorrido_em, self.aceito_em)


@dataclass(frozen=True)
class CheckinContent:
    """What a retry of a check-in repeats: the member, the type and the time, the time only when
    the sender chose it. For an event sent without `ocorrido_em` the API stamps the moment it
    accepted it (`ocorrido_em == aceito_em`), so a retry of that event carries a later time and is
    still the same check-in. `dispositivo` and `origem` say which way it came, not what happened,
    so they are left out. The stored row has the same columns, so the consumer can compare with
    it without a column of its own."""

    aluno_id: int
    tipo: str
    ocorrido_em: datetime
    time_from_sender: bool

    @classmethod
    def of(
        cls, aluno_id: int, tipo: str, ocorrido_em: datetime, aceito_em: datetime | None
    ) -> "CheckinContent":
        return cls(aluno_id, tipo, ocorrido_em, time_from_sender=ocorrido_em != aceito_em)

    def differences(self, other: "CheckinContent") -> list[str]:
        """The fields in which two events with one `checkin_id` differ; empty: one check-in."""
        differing = []
        if self.aluno_id != other.aluno_id:
            differing.append("aluno_id")
        if self.tipo != other.tipo:
            differing.append("tipo")
        both_chose_the_time = self.time_from_sender and other.time_from_sender
        if both_chose_the_time and self.ocorrido_em != other.ocorrido_em:
            differing.append("ocorrido_em")
        return differing


class CheckinMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = MESSAGE_VERSION
    eventos: list[CheckinEvent] = Field(min_length=1)


_message_adapter = TypeAdapter(CheckinMessage)


class PoisonMessage(Exception):
    """A message no retry can fix: it goes to the dead-letter queue with `reason` and `detail`
    (field names and messages only, never the values: a body may hold anything)."""

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def encode_checkins(events: list[CheckinEvent]) -> bytes:
    return orjson.dumps(
        {"v": MESSAGE_VERSION, "eventos": [e.model_dump(mode="json") for e in events]}
    )


# Enough of a validation failure to fix the sender, short enough for a message header.
DETAIL_ERRORS = 3


def decode_checkins(body: bytes) -> list[CheckinEvent]:
    try:
        return _message_adapter.validate_json(body).eventos
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        # Not JSON, or JSON that is not an object: nothing in it reads as a check-in message.
        unreadable = any(e["type"] == "json_invalid" or not e["loc"] for e in errors)
        reason = vocabulary.UNDECODABLE if unreadable else vocabulary.INVALID_FIELDS
        shown = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'body'}: {e['msg']}"
            for e in errors[:DETAIL_ERRORS]
        )
        more = f" (+{len(errors) - DETAIL_ERRORS} more)" if len(errors) > DETAIL_ERRORS else ""
        raise PoisonMessage(reason, shown + more) from exc
