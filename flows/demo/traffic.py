"""The demo kiosk's traffic: which days it still has to post, and the check-ins of a day.

A day's check-ins are a pure function of the seed, the day and the members (who comes, when
they enter and leave, and each event's `checkin_id`), never of the time the demo runs: posting
them again sends the same events under the same ids, which the API treats as retries.

A day is posted once. The latest check-in stored closes its day: a run later that day finds
nothing to post, and the next run starts with the day after it (the days the demo did not run
are posted whole, as far back as the API accepts events).
"""

import hashlib
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from serving.simulator import HOUR_BANDS
from serving.vocabulary import ENTRY, EXIT, CheckinType

OPENING = time(6, 0)
LAST_ENTRY_HOUR = 21.5
# Visits end the same day: the last entry plus the longest visit is before midnight.
VISIT_MINUTES = (62.0, 15.0, 20.0, 120.0)  # mean, spread, shortest, longest
# The API refuses events older than 30 days; an hour of margin for the time posting takes.
OLDEST_POSTED = timedelta(days=30, hours=-1)


@dataclass(frozen=True)
class Member:
    """An active member as the API lists it: no visit before joining."""

    aluno_id: int
    joined_at: datetime


@dataclass(frozen=True)
class KioskEvent:
    checkin_id: uuid.UUID
    aluno_id: int
    tipo: CheckinType
    ocorrido_em: datetime

    def body(self) -> dict:
        """The `POST /aluno/checkin` body."""
        return {
            "checkin_id": str(self.checkin_id),
            "aluno_id": self.aluno_id,
            "tipo": self.tipo,
            "ocorrido_em": self.ocorrido_em.isoformat(),
        }


def day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def days_to_post(latest: datetime | None, now: datetime, zone: ZoneInfo) -> list[date]:
    """The gym-local days after the day of the `latest` check-in stored, up to today; none
    older than the API accepts. Empty when the latest check-in is from today."""
    today = now.astimezone(zone).date()
    first = today if latest is None else latest.astimezone(zone).date() + timedelta(days=1)
    first = max(first, (now - OLDEST_POSTED).astimezone(zone).date() + timedelta(days=1))
    return [first + timedelta(days=offset) for offset in range((today - first).days + 1)]


def day_events(
    seed: int,
    day: date,
    members: Iterable[Member],
    *,
    until: datetime,
    limit: int,
    zone: ZoneInfo,
) -> list[KioskEvent]:
    """At most `limit` check-ins of `day` that happened by `until`, in time order: one visit
    each for members taken in an order fixed by the seed and the day; an exit after `until`
    is not posted (the member is still in the gym)."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"gympulse-demo-kiosk/{seed}")
    events: list[KioskEvent] = []
    for member in sorted(members, key=lambda m: _rank(seed, day, m.aluno_id)):
        if len(events) >= limit:
            break
        entrada, saida = _visit(seed, day, member.aluno_id, zone)
        if entrada > until or entrada < member.joined_at:
            continue
        taps: list[tuple[CheckinType, datetime]] = [(ENTRY, entrada)]
        if saida <= until:
            taps.append((EXIT, saida))
        for tipo, when in taps:
            checkin_id = uuid.uuid5(namespace, f"{member.aluno_id}/{tipo}/{when.isoformat()}")
            events.append(KioskEvent(checkin_id, member.aluno_id, tipo, when))
    return sorted(events[:limit], key=lambda e: e.ocorrido_em)


def _rank(seed: int, day: date, aluno_id: int) -> bytes:
    """Who comes first on a day: independent of the other members, so a member joining or
    leaving does not change anyone else's day."""
    return hashlib.sha256(f"{seed}/{day.isoformat()}/{aluno_id}".encode()).digest()


def _visit(seed: int, day: date, aluno_id: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    rng = random.Random(f"{seed}/{day.isoformat()}/{aluno_id}")
    centre = rng.choices([band[0] for band in HOUR_BANDS], [band[1] for band in HOUR_BANDS])[0]
    hour = min(LAST_ENTRY_HOUR, max(OPENING.hour, centre + rng.gauss(0, 1.0)))
    mean, spread, shortest, longest = VISIT_MINUTES
    minutes = min(longest, max(shortest, rng.gauss(mean, spread)))
    entrada = day_start(day, zone) + timedelta(seconds=int(hour * 3600))
    return entrada, entrada + timedelta(seconds=int(minutes * 60))
