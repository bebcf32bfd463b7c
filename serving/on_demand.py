"""Scoring one member on demand: a member the nightly batch has not seen yet (a synthetic
student created a second ago, a new sign-up) is scored by the champion from its current
features, read from the warehouse's live view `churn_features_atuais` — the same SQL macro as
the feature table, over the app tables as they are now.

The champion is loaded once per process and reloaded when the `@champion` alias moves (checked
at most every `CHECK_SECONDS`). Loading it brings the ML stack (MLflow, scikit-learn, pandas,
SciPy: about a million objects the garbage collector tracks) into the API process: `on_loaded`
is called after each load, so the process that serves the API can freeze them out of the
collector's view (serving/api/server.py)."""

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from serving.config import Settings

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

CHECK_SECONDS = 60.0
LIVE_VIEW = "churn_features_atuais"


class ModelRegistryUnavailable(RuntimeError):
    """The model registry (MLflow) did not answer and no champion is loaded yet: a member can
    not be scored now, which is an outage to retry, not "no champion"."""


class ChampionCache:
    def __init__(self, settings: Settings, on_loaded: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.on_loaded = on_loaded
        self._champion: Any = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def get(self):
        """The current champion (models.scoring.Champion), or None when there is none."""
        from models import registry
        from models.scoring import load_champion

        with self._lock:
            if time.monotonic() - self._checked_at < CHECK_SECONDS and self._champion is not None:
                return self._champion
            first_check = self._checked_at == 0.0
            loaded = False
            try:
                registry.use_tracking(
                    self.settings.mlflow_tracking_uri,
                    self.settings.mlflow_experiment,
                    self.settings.mlflow_artifact_root,
                )
                current = registry.champion(self.settings.churn_model_name)
                if current is None:
                    self._champion = None
                elif self._champion is None or self._champion.version != str(current.version):
                    started = time.perf_counter()
                    self._champion = load_champion(self.settings.churn_model_name)
                    loaded = True
                    log.info(
                        "champion %s v%s loaded in %.1f s",
                        self.settings.churn_model_name,
                        self._champion.version,
                        time.perf_counter() - started,
                    )
            except Exception as exc:  # the store unreachable, an artifact that will not load
                if self._champion is None:
                    raise ModelRegistryUnavailable(type(exc).__name__) from exc
                # The loaded champion still scores; the next check is CHECK_SECONDS away.
                log.warning(
                    "model registry unreachable (%s): scoring with the loaded champion v%s",
                    type(exc).__name__,
                    self._champion.version,
                )
            self._checked_at = time.monotonic()
            # The first check imported the ML stack; a load brought a model: both stay.
            if (first_check or loaded) and self.on_loaded is not None:
                self.on_loaded()
            return self._champion

    def warm_in_background(self) -> None:
        def warm() -> None:
            try:
                self.get()
            except Exception as exc:  # a missing store or model only means a cold first score
                log.warning("champion not preloaded: %s", exc)

        threading.Thread(target=warm, name="warm-champion", daemon=True).start()

    def score(self, features: "pd.DataFrame"):
        """(champion, ScoredMember) for a one-row frame, or None when there is no champion."""
        from models.features import normalise
        from models.scoring import predict

        champion = self.get()
        if champion is None:
            return None
        return champion, predict(champion, normalise(features))[0]


def live_features_sql(schema: str) -> str:
    return f'select * from "{schema}"."{LIVE_VIEW}" where aluno_id = :aluno_id'
