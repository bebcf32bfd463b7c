"""Cross-component tests share the serving fixtures: same test database, vhost and Redis db."""

from serving.tests.conftest import *  # noqa: F403
