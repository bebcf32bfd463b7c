"""Fallback load generator when wrk is not installed: the same closed loop as bench/checkin.lua
(N keep-alive connections, each posting the next check-in as soon as the previous one is
answered), the same environment variables and the same output files.

    BENCH_OUT=... BENCH_RUN=... BENCH_MEMBER_FIRST=1 BENCH_MEMBER_LAST=1000 BENCH_API_KEY=... \
        python -m bench.loadgen http://127.0.0.1:18080 --connections 32 --duration 20

It costs far more CPU per request than wrk, which matters on a 2-core machine: prefer wrk.
"""

import argparse
import asyncio
import json
import os
import random
import time

import aiohttp


def _percentile(ordered: list[float], pct: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


async def _run(url: str, connections: int, duration: float, timeout: float) -> None:
    out = os.environ["BENCH_OUT"]
    run = os.environ["BENCH_RUN"]
    first = int(os.environ["BENCH_MEMBER_FIRST"])
    last = int(os.environ["BENCH_MEMBER_LAST"])
    headers = {"Content-Type": "application/json"}
    if os.environ.get("BENCH_API_KEY"):
        headers["X-API-Key"] = os.environ["BENCH_API_KEY"]
    path = os.environ.get("BENCH_PATH", "/aluno/checkin")
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    accepted: list[str] = []
    counter = 0
    stop_at = time.monotonic() + duration

    async def connection(session: aiohttp.ClientSession) -> None:
        nonlocal counter
        while time.monotonic() < stop_at:
            counter += 1
            checkin_id = f"{run}-0001-4000-8000-{counter:012x}"
            tipo = "saida" if counter % 2 == 0 else "entrada"
            body = (
                f'{{"checkin_id":"{checkin_id}","aluno_id":{random.randint(first, last)},'
                f'"tipo":"{tipo}"}}'
            )
            started = time.perf_counter()
            try:
                async with session.post(url + path, data=body, headers=headers) as response:
                    await response.read()
                    code = response.status
            except TimeoutError:
                errors["timeout"] += 1
                continue
            except aiohttp.ClientError:
                errors["read"] += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[code] = statuses.get(code, 0) + 1
            if code == 202:
                accepted.append(checkin_id)
            elif code > 399:
                errors["status"] += 1

    connector = aiohttp.TCPConnector(limit=connections)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    began = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        await asyncio.gather(*(connection(session) for _ in range(connections)))
    elapsed = time.monotonic() - began
    with open(f"{out}.1.ids", "w") as f:
        f.writelines(f"{i}\n" for i in accepted)
    ordered = sorted(latencies)
    summary = {
        "loadgen": "python-aiohttp",
        "requests": len(latencies),
        "duration_s": elapsed,
        "accepted": len(accepted),
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": errors,
        "latency_ms": {
            "p50": _percentile(ordered, 50),
            "p90": _percentile(ordered, 90),
            "p99": _percentile(ordered, 99),
            "p999": _percentile(ordered, 99.9),
            "max": ordered[-1] if ordered else 0.0,
            "mean": sum(ordered) / len(ordered) if ordered else 0.0,
        },
    }
    with open(f"{out}.json", "w") as f:
        json.dump(summary, f)


def main() -> None:
    parser = argparse.ArgumentParser(description="closed-loop check-in load (wrk fallback)")
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--timeout", type=float, default=5)
    args = parser.parse_args()
    work = _run(args.url, args.connections, args.duration, args.timeout)
    try:
        import uvloop
    except ImportError:
        asyncio.run(work)
    else:
        uvloop.run(work)


if __name__ == "__main__":
    main()
