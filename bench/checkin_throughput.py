"""Sustained single check-ins through the whole path (HTTP → broker confirm → consumer →
PostgreSQL), side by side with a minimal app that only validates, publishes with a confirm and
answers 202 (bench/baseline_app.py).

    .venv/bin/python -m bench.checkin_throughput --duration 20

Both apps run under the same uvicorn settings and worker count, against the same consumer,
broker and database, driven by the same closed-loop load generator (wrk + bench/checkin.lua:
N keep-alive connections, each sending the next check-in as soon as the previous one is
answered). For each app: a warm-up, then the measured run, then a wait until every checkin_id
answered 202 is in PostgreSQL. Reported: rate of 202s, their ratio, latency p50/p99, the time
from the end of the load until the last accepted check-in is in PostgreSQL, the end-to-end
rate, lost check-ins and CPU per component. Results go to bench/results/.

It measures the API in the state a user has after `make demo`: a champion model registered in
the MLflow store the API reads (the repo's var/ store, unless MLFLOW_TRACKING_URI says
otherwise), which every API worker preloads at startup; the measured run starts once each
worker has loaded it. Without a champion it stops (`--allow-no-champion` measures that state).
"""

import argparse
import sys
import time
from typing import Any

from bench import common

TARGETS = {"ratio": 0.75, "e2e_rate": 1500.0, "p99_ms": 100.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.checkin_throughput",
        description="Single check-ins end to end, real API vs minimal baseline.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=20, help="measured seconds per app")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds per app")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers for both apps")
    parser.add_argument("--members", type=int, default=1000, help="members to seed")
    parser.add_argument(
        "--apps",
        default="baseline,gympulse",
        help="apps to measure, in this order (gympulse, baseline)",
    )
    parser.add_argument("--api-port", type=int, default=18080)
    parser.add_argument("--baseline-port", type=int, default=18081)
    parser.add_argument(
        "--api-factory",
        help="serve this app factory (module:function) as 'gympulse' instead of "
        "`gympulse api`, with the same uvicorn settings: to A/B a candidate change",
    )
    parser.add_argument("--consumers", type=int, default=1, help="consumer processes")
    parser.add_argument("--consumer-batch-size", type=int, help="CONSUMER_BATCH_SIZE")
    parser.add_argument("--consumer-flush-ms", type=int, help="CONSUMER_FLUSH_MS")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get install wrk when missing"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=120, help="max seconds to wait for PostgreSQL"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target is missed (not only on loss)"
    )
    parser.add_argument(
        "--allow-no-champion",
        action="store_true",
        help="measure even when no champion is registered (not the state after `make demo`)",
    )
    args = parser.parse_args(argv)
    args.apps = [a.strip() for a in args.apps.split(",") if a.strip()]
    unknown = set(args.apps) - {"gympulse", "baseline"}
    if unknown or not args.apps:
        parser.error(f"--apps: unknown {sorted(unknown)}")
    return args


def _app_service(name: str, args: argparse.Namespace, env: dict[str, str], log_dir) -> tuple:
    """The app's server: same uvicorn settings and worker count whichever app it is."""
    port = common.free_port(args.baseline_port if name == "baseline" else args.api_port)
    server = ["--port", str(port), "--workers", str(args.workers)]
    if name == "baseline":
        module = ["bench.baseline_app", *server]
    elif args.api_factory:
        module = ["bench.baseline_app", *server, "--factory", args.api_factory]
    else:
        module = ["flows.cli", "api", *server]
    return common.python_service(name, module, env, log_dir), port


def measure_app(
    name: str,
    args: argparse.Namespace,
    env: dict[str, str],
    seed: common.Seed,
    consumers: list[common.Service],
    wrk: str | None,
    out_dir,
    champion: str | None = None,
) -> dict[str, Any]:
    common.ensure_services()
    app, port = _app_service(name, args, env, out_dir)
    app.start()
    try:
        common.wait_healthy(port, app)
        if name == "gympulse" and champion is not None:
            started = time.monotonic()
            common.wait_champion_loaded(app, champion, args.workers)
            print(
                f"  {name}: champion v{champion} loaded by {args.workers} workers "
                f"({time.monotonic() - started:.0f}s after /health)"
            )
        load_kwargs = {
            "wrk": wrk,
            "port": port,
            "seed": seed,
            "connections": args.connections,
            "threads": args.threads,
        }
        if args.warmup > 0:
            print(f"  {name}: warm-up {args.warmup:g}s")
            warm = common.run_load(
                duration=args.warmup, out_prefix=out_dir / f"{name}-warmup", **load_kwargs
            )
            landed = common.wait_landed(warm.ids, args.drain_timeout)
            if landed.lost:
                print(f"  {name}: warm-up lost {landed.lost} of {landed.accepted} check-ins")
            common.settle()
            common.truncate_checkins()
        meter = common.CpuMeter({"app": app, "consumer": consumers})
        print(f"  {name}: measuring {args.duration:g}s with {args.connections} connections")
        pg_before = common.pg_counters()
        before = meter.snapshot()
        load = common.run_load(
            duration=args.duration, out_prefix=out_dir / f"{name}-measure", **load_kwargs
        )
        after_load = meter.snapshot()
        landing = common.wait_landed(load.ids, args.drain_timeout)
        after_drain = meter.snapshot()
        dead = common.dead_lettered()
    finally:
        app.stop()
    # After the stop: the app's connections are closed, so their counters are published.
    pg_after = common.pg_counters()
    for consumer in consumers:
        if not consumer.running():
            raise RuntimeError(f"{consumer.name} died:\n{consumer.tail()}")
    load_seconds = load.ended_at - load.started_at
    drained_at = landing.all_in_at
    result: dict[str, Any] = {
        "app": name,
        "port": port,
        "load": load.summary,
        "accepted": load.accepted,
        "rate": load.rate,
        "latency_ms": load.summary["latency_ms"],
        "non_202": {k: v for k, v in load.summary["statuses"].items() if k != "202"},
        "socket_errors": {k: v for k, v in load.summary["errors"].items() if k != "status" and v},
        "lost": landing.lost,
        "extra_rows": landing.extra,
        "dead_lettered": dead,
        "queue_latency_ms": landing.queue_latency_ms,
        "drain_s": (drained_at - load.ended_at) if drained_at else None,
        "last_row_after_load_s": (
            landing.last_written_at - load.ended_at if landing.last_written_at else None
        ),
        "e2e_rate": (load.accepted / (drained_at - load.started_at)) if drained_at else 0.0,
        "postgres_activity": {k: pg_after[k] - pg_before[k] for k in pg_after},
        "cpu_during_load": common.CpuMeter.delta(before, after_load, load_seconds),
        "cpu_load_and_drain": common.CpuMeter.delta(
            before, after_drain, (drained_at or time.time()) - load.started_at
        ),
    }
    return result


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def report(results: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    names = list(results)
    rows: list[tuple[str, ...]] = [("", *names)]

    def row(label: str, fn) -> None:
        rows.append((label, *(fn(results[n]) for n in names)))

    row("202 answers", lambda r: _fmt(r["accepted"]))
    row("rate (202/s)", lambda r: _fmt(r["rate"]))
    row("latency p50 (ms)", lambda r: _fmt(r["latency_ms"]["p50"], 1))
    row("latency p99 (ms)", lambda r: _fmt(r["latency_ms"]["p99"], 1))
    row("latency max (ms)", lambda r: _fmt(r["latency_ms"]["max"], 1))
    row(
        "non-202 / socket errors",
        lambda r: f"{sum(r['non_202'].values())} / {sum(r['socket_errors'].values())}",
    )
    row("last row in PG after load (s)", lambda r: _fmt(r["drain_s"], 2))
    row("end-to-end rate (/s)", lambda r: _fmt(r["e2e_rate"]))
    row(
        "202→PG p50 / p99 (ms)",
        lambda r: "{} / {}".format(
            _fmt(r["queue_latency_ms"].get("p50"), 0), _fmt(r["queue_latency_ms"].get("p99"), 0)
        ),
    )
    row("lost", lambda r: str(r["lost"]))
    row("PG sessions opened", lambda r: _fmt(r["postgres_activity"]["sessions"]))
    row(
        "PG rollbacks per check-in",
        lambda r: _fmt(r["postgres_activity"]["xact_rollback"] / max(r["accepted"], 1), 2),
    )
    row("extra rows (no 202 seen)", lambda r: str(r["extra_rows"]))
    for component in ("app", "consumer", "rabbitmq"):
        row(
            f"CPU ms per check-in, {component}",
            lambda r, c=component: _fmt(
                1000 * r["cpu_load_and_drain"].get(c, {}).get("cpu_s", 0) / max(r["accepted"], 1),
                2,
            ),
        )
    for component in ("app", "consumer", "rabbitmq", "postgres", "loadgen", "other", "machine"):
        row(
            f"CPU {component} (% of machine)",
            lambda r, c=component: _fmt(r["cpu_during_load"].get(c, {}).get("machine_pct"), 0),
        )

    verdict: dict[str, Any] = {}
    if "gympulse" in results:
        real = results["gympulse"]
        verdict["e2e_rate"] = real["e2e_rate"] >= TARGETS["e2e_rate"]
        verdict["p99_ms"] = real["latency_ms"]["p99"] <= TARGETS["p99_ms"]
        verdict["zero_loss"] = real["lost"] == 0
        if "baseline" in results:
            ratio = real["rate"] / results["baseline"]["rate"]
            verdict["ratio_value"] = round(ratio, 3)
            verdict["ratio"] = ratio >= TARGETS["ratio"]
    text = common.table(rows)
    if "ratio_value" in verdict:
        text += f"\n\nratio gympulse/baseline (202/s): {verdict['ratio_value']:.2f}"
    if verdict:
        checks = [
            ("ratio", f"ratio ≥ {TARGETS['ratio']}"),
            ("e2e_rate", f"≥ {TARGETS['e2e_rate']:,.0f} check-ins/s end to end"),
            ("p99_ms", f"p99 ≤ {TARGETS['p99_ms']:.0f} ms"),
            ("zero_loss", "zero loss"),
        ]
        text += "\ntargets: " + ", ".join(
            f"{label} {'OK' if verdict[key] else 'MISSED'}"
            for key, label in checks
            if key in verdict
        )
    return text, verdict


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = {}
    if args.consumer_batch_size:
        overrides["CONSUMER_BATCH_SIZE"] = str(args.consumer_batch_size)
    if args.consumer_flush_ms:
        overrides["CONSUMER_FLUSH_MS"] = str(args.consumer_flush_ms)
    common.exit_on_sigterm()
    env = common.configure_environment(overrides)
    wrk = common.find_wrk(args.loadgen, install=not args.no_install)
    out_dir = common.run_dir("checkin_throughput")
    machine = common.machine_info()
    print(
        f"• checkin_throughput: {machine['cores']} cores, load average {machine['loadavg_at_start']}"
    )
    print(f"• preparing {common.BENCH_DATABASE} / vhost {common.BENCH_VHOST} / redis db 12")
    champion = common.registered_champion()
    if champion is None:
        message = (
            "no champion registered in the MLflow store the API reads: this is not the state "
            "after `make demo` (run it first)"
        )
        if not args.allow_no_champion:
            raise SystemExit(f"✘ {message}, or pass --allow-no-champion")
        print(f"⚠ {message}: measuring the empty state")
    else:
        print(f"• champion v{champion} registered: each API worker preloads it, as after make demo")
    seed = common.prepare_environment(args.members)
    consumer_procs = common.consumers(args.consumers, env, out_dir)
    results: dict[str, dict[str, Any]] = {}
    try:
        for consumer in consumer_procs:
            consumer.start()
        common.wait_consuming(len(consumer_procs))
        for name in args.apps:
            results[name] = measure_app(
                name, args, env, seed, consumer_procs, wrk, out_dir, champion
            )
    finally:
        for consumer in consumer_procs:
            consumer.stop()
    from serving.config import get_settings

    settings = get_settings()
    text, verdict = report(results)
    payload = {
        "benchmark": "checkin_throughput",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python -m bench.checkin_throughput " + " ".join(sys.argv[1:]),
        "machine": machine,
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "uvicorn_workers": args.workers,
            "api_factory": args.api_factory,
            "members": seed.members,
            "loadgen": "wrk" if wrk else "python-aiohttp",
            "consumers": args.consumers,
            "consumer_batch_size": settings.consumer_batch_size,
            "consumer_flush_ms": settings.consumer_flush_ms,
            "champion_version": champion,
        },
        "results": results,
        "targets": TARGETS,
        "verdict": verdict,
    }
    path = common.write_results(out_dir, "checkin_throughput", payload)
    print()
    print(text)
    print(f"\nresults: {path.relative_to(common.REPO_ROOT)}")
    lost = any(r["lost"] for r in results.values())
    missed = any(v is False for k, v in verdict.items() if k != "ratio_value")
    return 1 if lost or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
