"""The workers' reconnect loop on its own, with sessions that fail the ways pika does: what it
retries (anything the broker's going away caused, however pika raised it) and what it lets
through (a bug). The real broker restarts are in test_worker_reconnect.py (chaos)."""

import logging

import pytest
from pika.exceptions import AMQPConnectionError, ConnectionClosedByBroker

from serving.messaging.reconnect import run_reconnecting


def _teardown_after_a_forced_close() -> None:
    """What pika did at a broker restart: the connection closed, then BlockingChannel's
    cleanup tripped on its own bookkeeping."""
    try:
        raise ConnectionClosedByBroker(320, "CONNECTION_FORCED - broker forced connection closure")
    finally:
        raise AssertionError("ctag1.0123456789abcdef")


def _refused() -> None:
    """What pika raises while the broker is down."""
    raise AMQPConnectionError(ConnectionRefusedError(111, "Connection refused"))


def test_a_session_ended_by_the_broker_is_retried_with_one_line_each(caplog):
    failures = [_teardown_after_a_forced_close, _refused]
    sessions = []

    def session(on_connected) -> None:
        sessions.append(1)
        if failures:
            failures.pop(0)()

    with caplog.at_level(logging.WARNING, logger="serving.messaging.reconnect"):
        run_reconnecting(session, lambda: len(sessions) >= 3, "127.0.0.1:5679")

    assert len(sessions) == 3
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "RabbitMQ unreachable at 127.0.0.1:5679 (ConnectionClosedByBroker: 320 "
        "CONNECTION_FORCED - broker forced connection closure); retrying in 0.5s",
        "RabbitMQ unreachable at 127.0.0.1:5679 (connection refused); retrying in 1s",
    ]


def test_a_dropped_connection_after_consuming_retries_quickly_again(caplog):
    sessions = []

    def session(on_connected) -> None:
        sessions.append(1)
        if len(sessions) == 3:
            on_connected()
        raise ConnectionClosedByBroker(320, "CONNECTION_FORCED")

    with caplog.at_level(logging.WARNING, logger="serving.messaging.reconnect"):
        run_reconnecting(session, lambda: len(sessions) >= 4, "h:1")

    waits = [record.getMessage().rsplit(" ", 1)[1] for record in caplog.records]
    assert waits == ["0.5s", "1s", "0.5s", "1s"]
    assert "RabbitMQ connection to h:1 lost" in caplog.records[2].getMessage()


def test_a_bug_in_a_session_is_not_retried():
    sessions = []

    def session(on_connected) -> None:
        sessions.append(1)
        on_connected()
        raise KeyError("checkin_id")

    with pytest.raises(KeyError):
        run_reconnecting(session, lambda: False, "127.0.0.1:5672")
    assert len(sessions) == 1
