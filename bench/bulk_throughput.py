"""The bulk route end to end: batches of 10,000 events to POST /aluno/checkin/lote (a kiosk
that was offline), from a few concurrent clients, until every event is in PostgreSQL.

    .venv/bin/python -m bench.bulk_throughput --batches 20 --clients 3

Same isolated environment as bench.checkin_throughput (database, vhost, Redis db), the real API
(`gympulse api`) and consumer (`gympulse worker checkins`) as subprocesses. Bodies are built
and serialized before the clock starts. Reported: events/s end to end (first POST → last event
in PostgreSQL), the rate at which the API accepted them, batch latency, loss and CPU per
component. Results go to bench/results/.
"""

import argparse
import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench import common

TARGET_EVENTS_PER_S = 20_000.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bulk_throughput",
        description="Bulk check-ins (POST /aluno/checkin/lote) end to end.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--batches", type=int, default=20, help="measured batches")
    parser.add_argument("--batch-size", type=int, default=10_000, help="events per batch")
    parser.add_argument("--clients", type=int, default=3, help="concurrent clients")
    parser.add_argument("--warmup-batches", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--members", type=int, default=1000, help="members to seed")
    parser.add_argument("--api-port", type=int, default=18082)
    parser.add_argument("--consumers", type=int, default=1, help="consumer processes")
    parser.add_argument("--consumer-batch-size", type=int, help="CONSUMER_BATCH_SIZE")
    parser.add_argument("--consumer-flush-ms", type=int, help="CONSUMER_FLUSH_MS")
    parser.add_argument("--drain-timeout", type=float, default=180)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    return parser.parse_args(argv)


def build_batches(
    count: int, size: int, seed: common.Seed, rng: random.Random
) -> list[tuple[list[str], bytes]]:
    now = datetime.now(UTC)
    batches = []
    for _ in range(count):
        ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(size)]
        events = [
            {
                "checkin_id": checkin_id,
                "aluno_id": rng.randint(seed.member_first, seed.member_last),
                "tipo": "entrada" if i % 2 == 0 else "saida",
                "ocorrido_em": (now - timedelta(seconds=rng.randint(60, 6 * 3600))).isoformat(),
            }
            for i, checkin_id in enumerate(ids)
        ]
        batches.append((ids, orjson.dumps({"checkins": events})))
    return batches


async def post_batches(
    port: int, api_key: str, batches: list[tuple[list[str], bytes]], clients: int
) -> list[dict[str, Any]]:
    import aiohttp

    url = f"http://127.0.0.1:{port}/aluno/checkin/lote"
    headers = {"Content-Type": "application/json", "X-API-Key": api_key}
    queue: asyncio.Queue = asyncio.Queue()
    for index, batch in enumerate(batches):
        queue.put_nowait((index, batch))
    outcomes: list[dict[str, Any]] = []

    async def client(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            index, (ids, body) = queue.get_nowait()
            started = time.time()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    payload = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, payload = 0, repr(exc).encode()
            ended = time.time()
            outcome = {"index": index, "status": status, "started": started, "ended": ended}
            if status == 202:
                answered = orjson.loads(payload)
                if answered["aceitos"] != len(ids):
                    raise RuntimeError(f"batch {index}: {answered['aceitos']} of {len(ids)}")
                outcome["ids"] = ids
            else:
                outcome["error"] = payload[:300].decode(errors="replace")
            outcomes.append(outcome)

    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return sorted(outcomes, key=lambda o: o["index"])


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = {}
    if args.consumer_batch_size:
        overrides["CONSUMER_BATCH_SIZE"] = str(args.consumer_batch_size)
    if args.consumer_flush_ms:
        overrides["CONSUMER_FLUSH_MS"] = str(args.consumer_flush_ms)
    common.exit_on_sigterm()
    env = common.configure_environment(overrides)
    out_dir = common.run_dir("bulk_throughput")
    machine = common.machine_info()
    print(
        f"• bulk_throughput: {machine['cores']} cores, load average {machine['loadavg_at_start']}"
    )
    print(f"• preparing {common.BENCH_DATABASE} / vhost {common.BENCH_VHOST} / redis db 12")
    seed = common.prepare_environment(args.members)
    rng = random.Random(20261128)
    print(f"• building {args.warmup_batches + args.batches} batches of {args.batch_size:,} events")
    warmup = build_batches(args.warmup_batches, args.batch_size, seed, rng)
    batches = build_batches(args.batches, args.batch_size, seed, rng)
    port = common.free_port(args.api_port)
    consumer_procs = common.consumers(args.consumers, env, out_dir)
    api = common.python_service(
        "gympulse",
        ["flows.cli", "api", "--port", str(port), "--workers", str(args.workers)],
        env,
        out_dir,
    )
    try:
        for consumer in consumer_procs:
            consumer.start()
        api.start()
        common.wait_healthy(port, api)
        common.wait_consuming(len(consumer_procs))
        if warmup:
            print(f"  warm-up: {len(warmup)} batch(es)")
            done = asyncio.run(post_batches(port, seed.api_key, warmup, 1))
            warm_ids = [i for o in done if o["status"] == 202 for i in o["ids"]]
            common.wait_landed(warm_ids, args.drain_timeout, poll=0.2)
            common.settle()
            common.truncate_checkins()
        meter = common.CpuMeter({"app": api, "consumer": consumer_procs})
        total = args.batches * args.batch_size
        print(f"  measuring: {total:,} events, {args.clients} concurrent clients")
        before = meter.snapshot()
        started = time.time()
        outcomes = asyncio.run(post_batches(port, seed.api_key, batches, args.clients))
        http_done = max(o["ended"] for o in outcomes)
        after_http = meter.snapshot()
        accepted_ids = [i for o in outcomes if o["status"] == 202 for i in o["ids"]]
        landing = common.wait_landed(accepted_ids, args.drain_timeout, poll=0.2)
        after_drain = meter.snapshot()
        dead = common.dead_lettered()
    finally:
        api.stop()
        for consumer in consumer_procs:
            consumer.stop()

    from serving.config import get_settings

    settings = get_settings()
    accepted = len(accepted_ids)
    failed = [o for o in outcomes if o["status"] != 202]
    latencies = [o["ended"] - o["started"] for o in outcomes]
    all_in = landing.all_in_at
    result = {
        "events_sent": total,
        "events_accepted": accepted,
        "batches_failed": [{k: o[k] for k in ("index", "status", "error")} for o in failed],
        "http_seconds": http_done - started,
        "http_rate": accepted / (http_done - started),
        "batch_latency_s": {
            "p50": _percentile(latencies, 50),
            "max": max(latencies),
        },
        "drain_s": (all_in - http_done) if all_in else None,
        "e2e_seconds": (all_in - started) if all_in else None,
        "e2e_rate": (accepted / (all_in - started)) if all_in else 0.0,
        "lost": landing.lost,
        "extra_rows": landing.extra,
        "dead_lettered": dead,
        "queue_latency_ms": landing.queue_latency_ms,
        "cpu_during_http": common.CpuMeter.delta(before, after_http, http_done - started),
        "cpu_http_and_drain": common.CpuMeter.delta(
            before, after_drain, (all_in or time.time()) - started
        ),
    }
    verdict = {
        "e2e_rate": result["e2e_rate"] >= TARGET_EVENTS_PER_S,
        "zero_loss": landing.lost == 0 and not failed,
    }
    payload = {
        "benchmark": "bulk_throughput",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python -m bench.bulk_throughput " + " ".join(sys.argv[1:]),
        "machine": machine,
        "settings": {
            "batches": args.batches,
            "batch_size": args.batch_size,
            "clients": args.clients,
            "uvicorn_workers": args.workers,
            "members": seed.members,
            "bulk_events_per_message": settings.bulk_events_per_message,
            "consumers": args.consumers,
            "consumer_batch_size": settings.consumer_batch_size,
            "consumer_flush_ms": settings.consumer_flush_ms,
        },
        "result": result,
        "target_e2e_events_per_s": TARGET_EVENTS_PER_S,
        "verdict": verdict,
    }
    path = common.write_results(out_dir, "bulk_throughput", payload)
    cpu = result["cpu_http_and_drain"]
    rows = [
        ("", "bulk"),
        ("events accepted", f"{accepted:,} of {total:,}"),
        ("API accept rate (events/s)", f"{result['http_rate']:,.0f}"),
        (
            "batch latency p50 / max (s)",
            "{p50:.2f} / {max:.2f}".format(**result["batch_latency_s"]),
        ),
        ("last row in PG after last 202 (s)", _opt(result["drain_s"], "{:.2f}")),
        ("end to end (s)", _opt(result["e2e_seconds"], "{:.2f}")),
        ("end-to-end rate (events/s)", f"{result['e2e_rate']:,.0f}"),
        ("lost / failed batches", f"{landing.lost} / {len(failed)}"),
        ("extra rows / dead-lettered", f"{landing.extra} / {dead}"),
    ]
    for component in ("app", "consumer", "rabbitmq", "postgres", "bench", "other", "machine"):
        share = cpu.get(component, {}).get("machine_pct")
        rows.append((f"CPU {component} (% of machine, whole run)", _opt(share, "{:.0f}")))
    print()
    print(common.table(rows))
    print(
        f"targets: ≥ {TARGET_EVENTS_PER_S:,.0f} events/s end to end "
        f"{'OK' if verdict['e2e_rate'] else 'MISSED'}, "
        f"zero loss {'OK' if verdict['zero_loss'] else 'MISSED'}"
    )
    print(f"\nresults: {path.relative_to(common.REPO_ROOT)}")
    if not verdict["zero_loss"]:
        return 1
    return 1 if args.strict and not verdict["e2e_rate"] else 0


def _opt(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


if __name__ == "__main__":
    sys.exit(main())
