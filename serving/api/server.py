"""How `gympulse api` serves the app, and the tuning of the interpreter of each server process.

The tuning belongs to the process, not to the app: `create_app()` leaves the interpreter's
garbage collector alone, so the tests, a notebook or another app that import it keep theirs.
Only a process started to serve the API (the `gympulse api` command calls `serve()`) gets it,
through `create_served_app()`, the factory uvicorn imports in each worker process:

- young collections run less often (`GC_THRESHOLD`): fewer pauses under load, which is where
  the p99 of a check-in comes from;
- once startup is done, and again each time the champion model has been loaded, everything
  alive is moved out of the collector's view (`gc.freeze()`): the startup objects, the ML
  libraries and the champion live as long as the process, and a full collection that walked
  them (about a million objects once the champion is loaded) costs tens of milliseconds each
  time, on the check-in path.
"""

import copy
import gc

from fastapi import FastAPI

FACTORY = "serving.api.server:create_served_app"
GC_THRESHOLD = (20_000, 20, 50)


def tune_gc() -> None:
    gc.set_threshold(*GC_THRESHOLD)


def freeze_long_lived() -> None:
    """Collect what is garbage now (including what an earlier freeze kept, e.g. a champion that
    was replaced), then freeze every surviving object out of the collector's view: they are
    never walked by a collection again, and still freed when their last reference goes."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def log_config() -> dict:
    """uvicorn's logging, plus the app's own loggers (`serving.*`) at INFO on the same handler:
    startup warnings and the champion's load time show in the server's log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["serving"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def create_served_app() -> FastAPI:
    """The app as `gympulse api` serves it: `create_app()` in a server process of its own, whose
    GC this function tunes."""
    from serving.api.main import create_app

    tune_gc()
    return create_app(long_lived_ready=freeze_long_lived)


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1, factory: str = FACTORY):
    """Run uvicorn with the settings of `gympulse api` (the benchmark's baseline app is served
    by the same call, with its own factory)."""
    import uvicorn

    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=log_config(),
        access_log=False,
    )
