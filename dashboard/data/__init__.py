"""The one place that talks to Redis, PostgreSQL and the API.

Reads go to the Redis keys the flows write first, then to PostgreSQL; every read says whether the
cache was reachable (`Read.cache_down`) so a page can tell the user it is reading the database."""
