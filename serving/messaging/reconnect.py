"""The workers' outer loop: run a consuming session, and when the broker connection drops,
reconnect with exponential backoff until asked to stop."""

import logging
import time
from collections.abc import Callable

from pika.exceptions import AMQPConnectionError, AMQPError

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 10.0


def run_reconnecting(session: Callable[[], None], stopping: Callable[[], bool]) -> None:
    backoff = 0.5
    while not stopping():
        try:
            session()
            backoff = 0.5
        except (AMQPConnectionError, AMQPError, OSError) as exc:
            log.warning("RabbitMQ connection lost (%r); reconnecting in %.1fs", exc, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
