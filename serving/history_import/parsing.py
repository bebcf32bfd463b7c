"""Text to values: dates and instants (ISO 8601 or dd/mm/yyyy, naive means the gym's zone),
prices ("129,90"), COPY text escaping, and the ids of imported check-in events."""

import contextlib
import uuid
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation

# Namespace of the check-in ids made by the import: uuid5(CHECKIN_NAMESPACE, name), see
# `checkin_uuid`. Fixed forever: changing it would make a re-import duplicate every event.
CHECKIN_NAMESPACE = uuid.UUID("6f1c2a52-8d0e-5b7a-9c1e-3a7d4f0b9e21")


def checkin_uuid(aluno_ref: str, tipo: str, instant: datetime, tz: tzinfo) -> uuid.UUID:
    """The id of an imported check-in event: uuid5 over "aluno_ref|tipo|local ISO time with
    offset", the instant written in the gym's zone (e.g. "A17|entrada|2026-01-05T07:30:00-03:00")."""
    local = instant.astimezone(tz)
    return uuid.uuid5(CHECKIN_NAMESPACE, f"{aluno_ref}|{tipo}|{local.isoformat()}")


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        if "/" not in text:
            raise
        return datetime.strptime(text, "%d/%m/%Y").date()


def parse_instant(text: str, tz: tzinfo) -> datetime:
    """ISO 8601 date or timestamp (or dd/mm/yyyy [hh:mm[:ss]]); naive means the gym's zone."""
    value: datetime | None = None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        if "/" not in text:
            raise
        for fmt in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"):
            with contextlib.suppress(ValueError):
                value = datetime.strptime(text, fmt)
                break
        if value is None:
            raise
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def parse_price(text: str) -> Decimal:
    """A finite decimal, "129.90" or "129,90"; InvalidOperation otherwise."""
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # 129,90
    value = Decimal(text)
    if not value.is_finite():
        raise InvalidOperation
    return value


def copy_text(value: str) -> str:
    """Escape for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


class Instants:
    """Parses check-in timestamps fast. Every text is validated by `datetime.fromisoformat`; a
    naive one gets the gym zone's offset from a cache keyed by its date and hour. Returns the
    wall-clock time in the gym zone (for comparisons) and the canonical text: that local time
    in ISO 8601 with its offset, e.g. 2026-01-05T07:30:00-03:00."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.offsets: dict[str, str] = {}

    def canonical(self, text: str) -> tuple[datetime, str]:
        value = parse_instant(text, self.tz) if "/" in text else datetime.fromisoformat(text)
        if value.tzinfo is None:
            key = text[:13]
            offset = self.offsets.get(key)
            if offset is None:
                offset = value.replace(tzinfo=self.tz).isoformat()[-6:]
                self.offsets[key] = offset
            if (
                len(text) == 19
                and text[10] in " T"
                and text[4] == text[7] == "-"
                and text[13] == text[16] == ":"
            ):
                # Already YYYY-MM-DD?HH:MM:SS (fromisoformat accepted it): no reformatting.
                return value, f"{text[:10]}T{text[11:]}{offset}"
            return value, value.isoformat() + offset
        local = value.astimezone(self.tz)
        return local.replace(tzinfo=None), local.isoformat()


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def uuid5_hex(base, name: str) -> str:
    """uuid5 as 32 hex digits (what COPY accepts), without building a UUID object."""
    h = base.copy()
    h.update(name.encode())
    d = h.hexdigest()
    return d[:12] + "5" + d[13:16] + _VARIANT[d[16]] + d[17:32]
