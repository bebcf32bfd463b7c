"""The floor the real API is compared with: a minimal app that validates the same body
(`CheckinIn`), publishes the same message with a publisher confirm (persistent, mandatory, same
quorum queue topology, same `Publisher`) and answers 202 with the same response model. No
authentication, no database, no member check.

    python -m bench.baseline_app --port 18081 --workers 2

It is served by uvicorn with the same settings as `gympulse api` (`serving.api.server.serve`:
uvloop/httptools when installed, no access log), so the difference between the two is what the
real route adds. `--factory serving.api.server:create_served_app` serves the real API exactly as
`gympulse api` does (its GC tuning included).
"""

import argparse
import contextlib
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, HTTPException, Request, status

from serving.api.schemas import CheckinAccepted, CheckinIn, ErroOut
from serving.config import get_settings
from serving.messaging.events import CheckinEvent, encode_checkins
from serving.messaging.publisher import Publisher, PublishFailed
from serving.messaging.topology import CHECKIN_QUEUE

DEVICE = "bench-baseline"


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = get_settings()
    publisher = Publisher(
        settings.rabbitmq_url,
        timeout=settings.publish_timeout_seconds,
        delivery_limit=settings.queue_delivery_limit,
    )
    app.state.publisher = publisher
    with contextlib.suppress(Exception):  # like the real API: start anyway, connect on publish
        await publisher.connect()
    yield
    await publisher.close()


def create_app() -> FastAPI:
    app = FastAPI(title="gympulse bench baseline", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/aluno/checkin",
        response_model=CheckinAccepted,
        status_code=status.HTTP_202_ACCEPTED,
        responses={503: {"model": ErroOut}},
    )
    async def post_checkin(body: CheckinIn, request: Request) -> CheckinAccepted:
        now = datetime.now(UTC)
        event = CheckinEvent(
            checkin_id=body.checkin_id or uuid.uuid4(),
            aluno_id=body.aluno_id,
            tipo=body.tipo,
            ocorrido_em=body.ocorrido_em or now,
            dispositivo=DEVICE,
            origem="kiosk",
            aceito_em=now,
        )
        try:
            await request.app.state.publisher.publish(
                CHECKIN_QUEUE, encode_checkins([event]), message_id=str(event.checkin_id)
            )
        except PublishFailed as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from exc
        return CheckinAccepted(
            checkin_id=event.checkin_id,
            aluno_id=event.aluno_id,
            tipo=event.tipo,
            ocorrido_em=event.ocorrido_em,
        )

    return app


def main() -> None:
    from serving.api.server import serve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18081)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--factory",
        default="bench.baseline_app:create_app",
        help="serve another app factory with the same settings",
    )
    args = parser.parse_args()
    # The same call as `gympulse api` (serving.api.server.serve), only the app differs.
    serve(host=args.host, port=args.port, workers=args.workers, factory=args.factory)


if __name__ == "__main__":
    main()
