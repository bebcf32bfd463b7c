"""The app factory leaves the interpreter's garbage collector alone; only the server process
(`gympulse api` → serving.api.server) tunes it and freezes its long-lived objects."""

import gc

from fastapi.testclient import TestClient

from serving.api import server
from serving.api.main import create_app


def test_create_app_and_its_lifespan_do_not_retune_the_gc(settings, db, rabbit, cache):
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()

    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200

    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == frozen


def test_the_served_app_tunes_the_gc_and_freezes_the_startup_objects(
    settings, db, rabbit, cache, monkeypatch
):
    threshold = gc.get_threshold()
    calls = []
    monkeypatch.setattr(server, "freeze_long_lived", lambda: calls.append("freeze"))
    try:
        app = server.create_served_app()  # reads get_settings(): the test settings
        assert gc.get_threshold() == server.GC_THRESHOLD
        with TestClient(app) as client:
            assert client.get("/health").status_code == 200
        assert calls == ["freeze"]
    finally:
        gc.set_threshold(*threshold)


def test_freezing_moves_the_live_objects_out_of_the_collectors_view():
    try:
        server.freeze_long_lived()
        assert gc.get_freeze_count() > 0
        assert len(gc.get_objects()) < gc.get_freeze_count()
    finally:
        gc.unfreeze()
