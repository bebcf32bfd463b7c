"""A gym simulated as a process, loaded through the real ingestion paths (`gympulse simulate`).

Churn here is an outcome, never an input: every member has a latent engagement (visits per week)
that moves week to week; a member may slide into a disengaging phase; the weekly cancellation
hazard is computed from the visits the member actually made in the last weeks, plus tenure,
contract renewal and a small abrupt-exit term. The model and its parameters are documented in
docs/simulator.md.

Two entry points:

- `generate(...)` writes planos.csv, alunos.csv and checkins.csv in the history-import format
  (streamed, deterministic for a seed and an end instant); `simulate_gym(...)` then loads them
  with `serving.history_import.import_history` and may replay the last days through the live
  bulk check-in route.
- `create_synthetic_student(...)` writes one member with a chosen profile and its history to
  PostgreSQL in one transaction, so its risk can be scored at once (the seed's "aluno sintético").

Modules: `params` (the model's constants, member names), `model` (one member's engagement,
cancellation and visits), `generate` (the CSV files), `progress` (the bar), `replay` (kiosk
traffic through the API), `gym` (`simulate_gym`), `student` (the synthetic student).
"""

from serving.simulator.generate import ReplayVisit, Summary, generate
from serving.simulator.gym import SimulationResult, simulate_gym
from serving.simulator.params import (
    DAY,
    DECLINE_FACTOR,
    DECLINE_RECOVERY,
    DECLINE_START,
    DOUBLE_TAP,
    DURATION_SIGMA,
    EARLY_MULT,
    EARLY_WEEKS,
    FIRST,
    HAZARD_ABRUPT,
    HAZARD_LOW_ATTENDANCE,
    HAZARD_VISIT_DECAY,
    HOUR_BANDS,
    JOIN_SEASON,
    LAST,
    MID_CONTRACT_MULT,
    MISSED_EXIT,
    PLANS,
    PROFILES,
    RENEWAL_DAYS,
    RENEWAL_MULT,
    VISIT_SEASON,
    WALK_PULL,
    WALK_SIGMA,
    WEEK,
)
from serving.simulator.replay import post_batches, replay_through_api
from serving.simulator.student import (
    CreatedStudent,
    EmailTaken,
    PlanNotActive,
    StudentError,
    StudentProfile,
    create_synthetic_student,
    student_history,
    student_rows,
)

__all__ = [
    "DAY",
    "DECLINE_FACTOR",
    "DECLINE_RECOVERY",
    "DECLINE_START",
    "DOUBLE_TAP",
    "DURATION_SIGMA",
    "EARLY_MULT",
    "EARLY_WEEKS",
    "FIRST",
    "HAZARD_ABRUPT",
    "HAZARD_LOW_ATTENDANCE",
    "HAZARD_VISIT_DECAY",
    "HOUR_BANDS",
    "JOIN_SEASON",
    "LAST",
    "MID_CONTRACT_MULT",
    "MISSED_EXIT",
    "PLANS",
    "PROFILES",
    "RENEWAL_DAYS",
    "RENEWAL_MULT",
    "VISIT_SEASON",
    "WALK_PULL",
    "WALK_SIGMA",
    "WEEK",
    "CreatedStudent",
    "EmailTaken",
    "PlanNotActive",
    "ReplayVisit",
    "SimulationResult",
    "StudentError",
    "StudentProfile",
    "Summary",
    "create_synthetic_student",
    "generate",
    "post_batches",
    "replay_through_api",
    "simulate_gym",
    "student_history",
    "student_rows",
]
