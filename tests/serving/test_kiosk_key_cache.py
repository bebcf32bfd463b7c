"""The kiosk key cache stays bounded whatever keys are sent, rejects a known invalid key without
asking PostgreSQL again, and keeps the real kiosks working through a flood of random keys."""

import secrets
import uuid

from serving.api import deps
from serving.api.credentials import CredentialCache, Principal
from serving.security import sha256_hex

KIOSK = Principal(role="kiosk", name="entrada", device_id=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_random_invalid_keys_leaves_the_cache_bounded_and_the_kiosk_known():
    keys = CredentialCache(max_valid=50, max_invalid=100)
    keys.store("valid", KIOSK)

    for _ in range(100_000):
        keys.store(sha256_hex(secrets.token_hex(16)), None)

    assert len(keys) <= 150
    assert keys.lookup("valid") == (True, True, KIOSK)


def test_an_invalid_key_is_rejected_from_memory_until_its_entry_expires():
    clock = Clock()
    keys = CredentialCache(ttl=5, clock=clock)
    assert keys.lookup("bad") == (False, False, None)
    keys.store("bad", None)

    assert keys.lookup("bad") == (True, True, None)
    clock.now += 6
    assert keys.lookup("bad") == (False, False, None)
    assert len(keys) == 0


def test_a_valid_key_outlives_its_ttl_as_a_fallback_and_the_oldest_leaves_first():
    clock = Clock()
    keys = CredentialCache(ttl=5, max_valid=2, clock=clock)
    keys.store("a", KIOSK)
    keys.store("b", KIOSK)
    clock.now += 6

    assert keys.lookup("a") == (True, False, KIOSK)  # stale: asked again, kept if PG is down
    keys.store("a", KIOSK)  # refreshed
    keys.store("c", KIOSK)

    assert keys.lookup("b") == (False, False, None)
    assert keys.lookup("a")[0] and keys.lookup("c")[0]


def test_a_revoked_key_moves_to_the_invalid_side():
    keys = CredentialCache()
    keys.store("k", KIOSK)
    keys.store("k", None)

    assert keys.lookup("k") == (True, True, None)
    assert len(keys) == 1


def test_through_the_api_random_keys_are_bounded_and_repeated_ones_cost_no_lookup(
    client, headers, member, monkeypatch
):
    bounded = CredentialCache(max_valid=10, max_invalid=20)
    client.app.state.kiosk_keys = bounded
    lookups = []
    real_lookup = deps.lookup_kiosk

    async def counting_lookup(pool, key_hash):
        lookups.append(key_hash)
        return await real_lookup(pool, key_hash)

    monkeypatch.setattr(deps, "lookup_kiosk", counting_lookup)

    def post(key):
        return client.post(
            "/aluno/checkin",
            json={"aluno_id": member, "checkin_id": str(uuid.uuid4())},
            headers={"X-API-Key": key},
        )

    for _ in range(200):
        assert post(secrets.token_urlsafe(24)).status_code == 401
    assert len(bounded) <= 30

    lookups.clear()
    for _ in range(5):
        assert post("the-same-wrong-key").status_code == 401
    assert len(lookups) == 1

    assert post(headers["kiosk"]["X-API-Key"]).status_code == 202
