import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.support import wait_until

TZ = ZoneInfo("America/Sao_Paulo")
DAY = datetime(2026, 11, 2, tzinfo=TZ)  # a Monday


def _insert(db, member: int, tipo: str, when: datetime) -> None:
    db.execute(
        "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em) values (%s, %s, %s, %s)",
        (uuid.uuid4(), member, tipo, when),
    )


def _frequency(client, headers, member, **params):
    params = {"inicio": "2026-11-02", "fim": "2026-11-15", **params}
    response = client.get(f"/aluno/{member}/frequencia", params=params, headers=headers["analista"])
    assert response.status_code == 200, response.text
    return response.json()


def test_pairing_rule_handles_double_taps_missing_and_orphan_exits(client, headers, member, db):
    at = lambda day, hour, minute=0: DAY + timedelta(days=day, hours=hour, minutes=minute)  # noqa: E731
    # day 0: a normal 60-minute visit, entry tapped twice
    _insert(db, member, "entrada", at(0, 7))
    _insert(db, member, "entrada", at(0, 7, 1))
    _insert(db, member, "saida", at(0, 8))
    # day 1: the kiosk missed the exit
    _insert(db, member, "entrada", at(1, 18))
    # day 3: exit 7 h after the entry is not its exit: a visit without duration + an orphan exit
    _insert(db, member, "entrada", at(3, 6))
    _insert(db, member, "saida", at(3, 13))
    # day 4: an exit with no entry, tapped twice
    _insert(db, member, "saida", at(4, 20))
    _insert(db, member, "saida", at(4, 20, 1))
    # day 8: 90-minute visit
    _insert(db, member, "entrada", at(8, 19))
    _insert(db, member, "saida", at(8, 20, 30))

    body = _frequency(client, headers, member)

    assert body["total_visitas"] == 4
    assert body["visitas_com_saida"] == 2
    assert body["saidas_sem_entrada"] == 2
    assert body["duracao_media_minutos"] == 75.0
    assert body["frequencia_semanal"] == 2.0  # 4 visits over two weeks
    durations = [v["duracao_minutos"] for v in body["visitas"]]
    assert durations == [90.0, None, None, 60.0]  # newest first
    assert [w["visitas"] for w in body["semanas"]] == [3, 1]
    assert body["ultima_visita"].startswith("2026-11-10T22:00")  # 19:00 in São Paulo, in UTC


def test_events_before_the_period_pair_as_in_the_whole_history(client, headers, member, db):
    """The period's first exit is paired as the warehouse pairs it: the entry 6 h before the
    period is a double tap of the one a minute earlier (dropped), so the exit is an orphan."""
    _insert(db, member, "entrada", DAY - timedelta(hours=6, minutes=1))
    _insert(db, member, "entrada", DAY - timedelta(hours=6))
    _insert(db, member, "saida", DAY)

    body = _frequency(client, headers, member)

    assert body["total_visitas"] == 0
    assert body["saidas_sem_entrada"] == 1


def test_period_and_pagination(client, headers, member, db):
    for day in range(10):
        _insert(db, member, "entrada", DAY + timedelta(days=day, hours=9))
        _insert(db, member, "saida", DAY + timedelta(days=day, hours=10))

    page1 = _frequency(client, headers, member, page_size=4)
    page3 = _frequency(client, headers, member, page_size=4, page=3)
    first_week = _frequency(client, headers, member, fim="2026-11-08")

    assert page1["total_visitas"] == 10 and len(page1["visitas"]) == 4
    assert len(page3["visitas"]) == 2
    assert page3["visitas"][-1]["entrada"].startswith("2026-11-02T12:00")
    assert first_week["total_visitas"] == 7
    empty_weeks = _frequency(client, headers, member, inicio="2026-10-19", fim="2026-11-08")
    assert [w["visitas"] for w in empty_weeks["semanas"]] == [0, 0, 7]


def test_bad_period_and_unknown_member(client, headers, member):
    reversed_range = client.get(
        f"/aluno/{member}/frequencia",
        params={"inicio": "2026-11-10", "fim": "2026-11-01"},
        headers=headers["admin"],
    )
    too_long = client.get(
        f"/aluno/{member}/frequencia",
        params={"inicio": "2024-01-01", "fim": "2026-11-01"},
        headers=headers["admin"],
    )
    unknown = client.get("/aluno/987654/frequencia", headers=headers["admin"])
    assert reversed_range.status_code == 422
    assert too_long.status_code == 422
    assert unknown.status_code == 404


def test_cached_and_refreshed_by_the_members_new_checkin(client, headers, member, db, worker):
    from datetime import UTC

    today = datetime.now(UTC)
    _insert(db, member, "entrada", today - timedelta(days=2, hours=1))
    params = {"fim": today.astimezone(TZ).date().isoformat()}
    url = f"/aluno/{member}/frequencia"

    first = client.get(url, params=params, headers=headers["admin"]).json()
    _insert(db, member, "entrada", today - timedelta(days=1))  # behind the API's back
    cached = client.get(url, params=params, headers=headers["admin"]).json()
    stats = client.get("/status/cache", headers=headers["admin"]).json()

    assert first["total_visitas"] == 1
    assert cached["total_visitas"] == 1  # served from Redis
    assert stats["por_tipo"]["frequencia"] == {"hits": 1, "misses": 1}

    posted = client.post(
        "/aluno/checkin",
        json={"aluno_id": member, "checkin_id": str(uuid.uuid4())},
        headers=headers["kiosk"],
    )
    assert posted.status_code == 202

    def refreshed() -> bool:
        body = client.get(url, params=params, headers=headers["admin"]).json()
        return body["total_visitas"] == 3

    assert wait_until(refreshed)


def test_member_update_drops_its_cache(client, headers, member, db, plan_id):
    url = f"/aluno/{member}/frequencia"
    client.get(url, headers=headers["admin"])
    _insert(db, member, "entrada", datetime.now(TZ) - timedelta(hours=3))
    client.patch(f"/aluno/{member}/desativar", headers=headers["recepcao"])

    assert client.get(url, headers=headers["admin"]).json()["total_visitas"] == 1


def test_an_answer_read_before_a_checkin_landed_is_not_cached(client, headers, member, db, cache):
    import asyncio

    from serving.cache import Cache, frequency_key, invalidate_members_sync

    async def race() -> bool:
        api_cache = Cache(str(client.app.state.settings.redis_url), timeout=1)
        seen = await api_cache.member_version(member)  # the API starts computing...
        invalidate_members_sync(cache, {member})  # ...a check-in of the member lands...
        await api_cache.set_field(  # ...and the API tries to cache its stale answer
            frequency_key(member), "x", {"total_visitas": 0}, 60, aluno_id=member, seen=seen
        )
        stored = await api_cache.client.hexists(frequency_key(member), "x")
        await api_cache.close()
        return stored

    assert asyncio.run(race()) is False
