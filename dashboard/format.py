"""Numbers and dates as a Brazilian reader writes them, in the gym's time zone."""

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo


def _brazilian(text: str) -> str:
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def inteiro(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return _brazilian(f"{round(value):,}")


def decimal(value: float | None, places: int = 1) -> str:
    if value is None or math.isnan(value):
        return "—"
    return _brazilian(f"{value:,.{places}f}")


def percentual(share: float | None, places: int = 1) -> str:
    """0.034 → '3,4 %'."""
    if share is None or math.isnan(share):
        return "—"
    return f"{decimal(share * 100, places)} %"


def data(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else "—"


def data_hora(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(tz).strftime("%d/%m/%Y %H:%M")
