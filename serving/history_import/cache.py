"""After an import: drop the cached frequency and risk of the members that got check-ins."""

import logging

log = logging.getLogger("serving.history_import")


def invalidate_cache(redis_url: str, members: list[int]) -> None:
    """Cached frequency and risk of members that got check-ins are stale: drop them
    (best effort; the cache expires on its own when Redis is unreachable now)."""
    if not members:
        return
    try:
        import redis

        from serving.cache import invalidate_members_sync

        client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=5)
        for start in range(0, len(members), 5000):
            invalidate_members_sync(client, set(members[start : start + 5000]))
    except Exception as exc:  # the import itself has succeeded
        log.warning("could not invalidate the cache of %d members: %s", len(members), exc)
