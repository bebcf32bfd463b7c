"""Exchanges and queues, declared the same way by the API (aio-pika) and the workers (pika).

Every work queue is a durable quorum queue with a delivery limit and a dead-letter queue, so a
message that keeps failing is parked in `<queue>.dlq` instead of looping forever.
"""

from dataclasses import dataclass

EXCHANGE = "gympulse"
DEAD_LETTER_EXCHANGE = "gympulse.dlx"

CHECKIN_QUEUE = "checkin_queue"
DAILY_REPORT_QUEUE = "daily_report_queue"
MODEL_UPDATE_QUEUE = "model_update_queue"
CHURN_PROBABILITIES_QUEUE = "churn_probabilities_queue"
WORK_QUEUES = (CHECKIN_QUEUE, DAILY_REPORT_QUEUE, MODEL_UPDATE_QUEUE, CHURN_PROBABILITIES_QUEUE)


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dlq"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    arguments: dict[str, object]
    routing_key: str
    exchange: str


def queue_specs(delivery_limit: int) -> list[QueueSpec]:
    specs = []
    for queue in WORK_QUEUES:
        specs.append(
            QueueSpec(
                name=queue,
                arguments={
                    "x-queue-type": "quorum",
                    "x-delivery-limit": delivery_limit,
                    "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                    "x-dead-letter-routing-key": queue,
                },
                routing_key=queue,
                exchange=EXCHANGE,
            )
        )
        specs.append(
            QueueSpec(
                name=dead_letter_queue(queue),
                arguments={"x-queue-type": "quorum"},
                routing_key=queue,
                exchange=DEAD_LETTER_EXCHANGE,
            )
        )
    return specs


def declare_with_pika(channel, delivery_limit: int) -> None:
    channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="direct", durable=True)
    for spec in queue_specs(delivery_limit):
        channel.queue_declare(spec.name, durable=True, arguments=spec.arguments)
        channel.queue_bind(spec.name, spec.exchange, routing_key=spec.routing_key)


async def declare_with_aio_pika(channel, delivery_limit: int):
    import aio_pika

    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
    dlx = await channel.declare_exchange(
        DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
    )
    by_name = {EXCHANGE: exchange, DEAD_LETTER_EXCHANGE: dlx}
    for spec in queue_specs(delivery_limit):
        queue = await channel.declare_queue(spec.name, durable=True, arguments=spec.arguments)
        await queue.bind(by_name[spec.exchange], routing_key=spec.routing_key)
    return exchange
