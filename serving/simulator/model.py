"""The generative model of one member: a latent engagement (visits per week) that moves week to
week and may slide into a decline; the weekly cancellation hazard computed from the visits the
member actually made; the visits themselves. Churn is an outcome, never an input.

Every draw from `rng` happens in a fixed order: the same seed gives the same history (and the
same CSV bytes), so reordering draws here changes every simulated gym."""

import bisect
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from serving.simulator.params import (
    DECLINE_FACTOR,
    DECLINE_RECOVERY,
    DECLINE_START,
    DOUBLE_TAP,
    DURATION_SIGMA,
    EARLY_MULT,
    EARLY_WEEKS,
    HAZARD_ABRUPT,
    HAZARD_LOW_ATTENDANCE,
    HAZARD_VISIT_DECAY,
    MID_CONTRACT_MULT,
    MISSED_EXIT,
    RENEWAL_DAYS,
    RENEWAL_MULT,
    VISIT_SEASON,
    WALK_PULL,
    WALK_SIGMA,
    WEEK,
)

# (entrada, saida or None when the kiosk missed it, double-tap offset or None)
Visit = tuple[datetime, datetime | None, timedelta | None]


def month_start(day: date, months_back: int) -> date:
    month = day.month - 1 - months_back
    return date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


def weighted(rng: random.Random, cumulative: list[float]) -> int:
    return bisect.bisect_right(cumulative, rng.random() * cumulative[-1])


def cumulative(weights) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def months_between(start: date, day: date) -> int:
    return (day.year - start.year) * 12 + day.month - start.month - (day.day < start.day)


def days_to_renewal(joined: date, day: date, contract_months: int) -> int:
    months_in = months_between(joined, day)
    cycles = months_in // contract_months + 1
    month = joined.month - 1 + cycles * contract_months
    renewal = date(joined.year + month // 12, month % 12 + 1, min(joined.day, 28))
    return (renewal - day).days


@dataclass
class _Member:
    """One member's traits (drawn once) and engagement state (moving every week)."""

    base: float
    log_base: float
    log_rate: float
    median_minutes: float
    hour: float
    day_weights: list[float]
    weight_total: float
    declining: bool = False
    decline_factor: float = 1.0

    @classmethod
    def draw(cls, rng: random.Random, profile: tuple, hour_centre: float) -> "_Member":
        _, _, rate_range, minutes_range = profile
        base = rng.uniform(*rate_range)
        log_base = math.log(base)
        log_rate = log_base + rng.gauss(0, 0.15)
        median_minutes = rng.uniform(*minutes_range)
        hour = hour_centre + rng.gauss(0, 1.0)
        # Preferred weekdays: 3 to 5 days weigh 1, the others 0.25.
        preferred = set(rng.sample(range(7), rng.randint(3, 5)))
        day_weights = [1.0 if d in preferred else 0.25 for d in range(7)]
        return cls(base, log_base, log_rate, median_minutes, hour, day_weights, sum(day_weights))

    def new_week(self, rng: random.Random, week: int) -> None:
        """1. Behaviour: the latent engagement moves, maybe into (or out of) a decline."""
        self.log_rate += WALK_PULL * (self.log_base - self.log_rate) + rng.gauss(0, WALK_SIGMA)
        if self.declining:
            self.decline_factor *= rng.uniform(*DECLINE_FACTOR)
            if rng.random() < DECLINE_RECOVERY:
                self.declining = False
        else:
            self.decline_factor = min(1.0, self.decline_factor * 1.25)
            start = DECLINE_START * (EARLY_MULT if week < EARLY_WEEKS else 1.0)
            start *= 2.0 if self.base < 1.2 else 1.0
            if rng.random() < start:
                self.declining = True

    def visit_week(
        self,
        rng: random.Random,
        week_start: date,
        *,
        joined_at: datetime,
        end: datetime,
        zone: ZoneInfo,
        cancel_day: date | None,
        visits: list[Visit],
    ) -> int:
        """3. This week's visits, day by day, until the cancellation or the end: appended to
        `visits`; returns how many."""
        end_day = end.date()
        season = VISIT_SEASON[week_start.month - 1]
        rate = math.exp(self.log_rate) * self.decline_factor * season
        count = 0
        for offset in range(7):
            day = week_start + timedelta(days=offset)
            if day > end_day or (cancel_day and day >= cancel_day):
                break
            chance = rate * self.day_weights[day.weekday()] / self.weight_total
            if rng.random() >= min(0.95, chance):
                continue
            if rng.random() < 0.15:
                start_hour = rng.uniform(6, 21.5)
            else:
                start_hour = min(22.0, max(5.5, self.hour + rng.gauss(0, 0.75)))
            entrada = datetime.combine(day, datetime.min.time(), zone) + timedelta(
                seconds=int(start_hour * 3600)
            )
            if entrada < joined_at or entrada >= end:
                continue
            minutes = min(
                240.0, max(10.0, self.median_minutes * math.exp(rng.gauss(0, DURATION_SIGMA)))
            )
            leaving = entrada + timedelta(seconds=int(minutes * 60))
            saida = None if leaving >= end or rng.random() < MISSED_EXIT else leaving
            tap = timedelta(seconds=rng.randint(3, 90)) if rng.random() < DOUBLE_TAP else None
            visits.append((entrada, saida, tap))
            count += 1
        return count


def _cancel_day(
    rng: random.Random,
    *,
    joined_day: date,
    week_start: date,
    weekly_counts: list[int],
    contract_months: int,
) -> date | None:
    """2. The cancellation hazard, driven by what the member did in the last 3 weeks."""
    recent = sum(weekly_counts[-3:]) / 3
    hazard = HAZARD_ABRUPT + HAZARD_LOW_ATTENDANCE * math.exp(-HAZARD_VISIT_DECAY * recent)
    months_in = months_between(joined_day, week_start)
    if days_to_renewal(joined_day, week_start, contract_months) <= RENEWAL_DAYS:
        hazard *= RENEWAL_MULT
    elif contract_months >= 3:
        hazard *= MID_CONTRACT_MULT
    if months_in < 3:
        hazard *= 1.5
    if rng.random() < hazard:
        return week_start + timedelta(days=rng.randrange(7))
    return None


def member_history(
    rng: random.Random,
    *,
    joined_day: date,
    end: datetime,
    zone: ZoneInfo,
    contract_months: int,
    profile: tuple,
    hour_centre: float,
) -> tuple[datetime, list[Visit], datetime | None]:
    """One member from joining to cancelling (or to `end`): (joined_at, visits, cancelled_at).

    Each visit is (entrada, saida or None when the kiosk missed it, double-tap offset or None).
    """
    member = _Member.draw(rng, profile, hour_centre)
    joined_at = datetime.combine(joined_day, datetime.min.time(), zone) + timedelta(
        seconds=rng.randrange(8 * 3600, 20 * 3600)
    )
    end_day = end.date()
    visits: list[Visit] = []
    weekly_counts: list[int] = []
    week_start, week = joined_day, 0
    while week_start <= end_day:
        if week:
            member.new_week(rng, week)
        cancel_day = None
        if week >= 2:
            cancel_day = _cancel_day(
                rng,
                joined_day=joined_day,
                week_start=week_start,
                weekly_counts=weekly_counts,
                contract_months=contract_months,
            )
        weekly_counts.append(
            member.visit_week(
                rng,
                week_start,
                joined_at=joined_at,
                end=end,
                zone=zone,
                cancel_day=cancel_day,
                visits=visits,
            )
        )
        if cancel_day is not None:
            last = (visits[-1][1] or visits[-1][0]) if visits else joined_at
            cancelled_at = max(
                datetime.combine(cancel_day, datetime.min.time(), zone)
                + timedelta(seconds=rng.randrange(9 * 3600, 19 * 3600)),
                last + timedelta(hours=1),
            )
            if cancelled_at < end:
                return joined_at, visits, cancelled_at
            # The decision falls after "now": still a member.
        week_start += WEEK
        week += 1
    return joined_at, visits, None
