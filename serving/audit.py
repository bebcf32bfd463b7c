"""The audit log of admin actions (`auditoria`): who did what, and when. One writer, `record`,
which adds the entry to the session of the change it records, so the two commit together or not
at all: a refused or failed change leaves no entry, a stored change always has one.

An entry names the actor (its username at the time, or `cli`), the action
(`serving.vocabulary.AuditAction`), the target (`usuario:12`, `aluno:42`) and what changed: field
names with their new values. Personal data (a member's or a user's name, e-mail, phone, birth
date, a free-text reason) and secrets (passwords, kiosk keys) never enter it as values, only as
the word that says they were given or changed (`"email": "alterado"`): the log is kept for
years, and would otherwise outlive the correction or erasure of what it quotes
(docs/personal-data.md).

Plain values only: the routes pass their `Principal`, which has the `Actor` shape."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from serving import personal_data
from serving.db.tables import Auditoria
from serving.vocabulary import AuditAction


class Actor(Protocol):
    """Who acts: a name, and the staff user's id when it is one."""

    @property
    def name(self) -> str: ...

    @property
    def user_id(self) -> int | None: ...


@dataclass(frozen=True)
class Operator:
    """An actor without a user account."""

    name: str
    user_id: int | None = None


# The command line (`gympulse users create-admin`, `gympulse devices create`): whoever holds the
# database credentials.
CLI: Final = Operator("cli")

# Fields whose values the log withholds, per kind of target.
MEMBER_PERSONAL: Final = frozenset({"nome", *personal_data.FIELDS, "motivo"})
USER_PERSONAL: Final = frozenset({"nome", "email"})
GIVEN: Final = "informado"
CHANGED: Final = "alterado"
REMOVED: Final = "removido"


def given(values: Mapping[str, Any], withheld: Collection[str] = ()) -> dict[str, Any]:
    """A new thing's details: each field given a value, the withheld ones as GIVEN."""
    return {
        field: GIVEN if field in withheld else value
        for field, value in values.items()
        if value is not None
    }


def changes(
    before: Mapping[str, Any], after: Mapping[str, Any], withheld: Collection[str] = ()
) -> dict[str, Any]:
    """What an update changed: each field of `after` whose value differs from `before`, with its
    new value; the withheld ones as CHANGED (REMOVED when cleared)."""
    changed = {}
    for field, value in after.items():
        if before.get(field) == value:
            continue
        if field in withheld:
            changed[field] = REMOVED if value is None else CHANGED
        else:
            changed[field] = value
    return changed


def target(kind: str, ident: object) -> str:
    """`usuario:12`, `job:<uuid>`: the thing an entry is about."""
    return f"{kind}:{ident}"


def record(
    session: Session | AsyncSession,
    actor: Actor,
    acao: AuditAction,
    alvo: str,
    detalhes: Mapping[str, Any] | None = None,
) -> None:
    """Add the entry to `session`, the one holding the change: it is written by the change's
    own commit (and never without it)."""
    session.add(
        Auditoria(
            usuario_id=actor.user_id,
            ator=actor.name,
            acao=acao,
            alvo=alvo,
            # Decimals, dates and ids as the API writes them in JSON.
            detalhes=to_jsonable_python(dict(detalhes or {})),
        )
    )
