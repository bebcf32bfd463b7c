"""Publishing from the API: persistent messages, publisher confirms, `mandatory`, a deadline.

A publish returns only when the broker confirmed the message is on a queue; anything else
(timeout, nack, unroutable return, no connection) raises PublishFailed and the API answers 503.
"""

import asyncio
import logging

import aio_pika
import aiormq
from aio_pika.abc import AbstractExchange, AbstractRobustConnection

from serving.messaging import topology

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    pass


class Publisher:
    def __init__(self, url: str, *, timeout: float, delivery_limit: int) -> None:
        self._url = url
        self._timeout = timeout
        self._delivery_limit = delivery_limit
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._connect_lock = asyncio.Lock()

    @property
    def connection(self) -> AbstractRobustConnection | None:
        return self._connection

    async def connect(self) -> None:
        async with self._connect_lock:
            if self._exchange is not None:
                return
            connection = await aio_pika.connect_robust(self._url, timeout=self._timeout)
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            self._exchange = await topology.declare_with_aio_pika(channel, self._delivery_limit)
            self._connection = connection

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = None
        self._exchange = None

    async def publish(self, routing_key: str, body: bytes, *, message_id: str) -> None:
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
        )
        try:
            async with asyncio.timeout(self._timeout):
                if self._exchange is None:
                    await self.connect()
                assert self._exchange is not None
                confirmation = await self._exchange.publish(
                    message, routing_key=routing_key, mandatory=True
                )
        except TimeoutError as exc:
            raise PublishFailed("broker did not confirm in time") from exc
        except PublishFailed:
            raise
        except Exception as exc:
            log.warning("publish to %s failed: %r", routing_key, exc)
            raise PublishFailed(f"broker refused or unreachable: {type(exc).__name__}") from exc
        if not isinstance(confirmation, aiormq.spec.Basic.Ack):
            raise PublishFailed(f"broker did not ack: {type(confirmation).__name__}")
