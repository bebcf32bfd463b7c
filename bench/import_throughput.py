"""History import (`gympulse import --checkins`) against a raw COPY of the same rows.

    .venv/bin/python -m bench.import_throughput --rows 1000000 --members 20000

Own database `gympulse_bench_import` (dropped, recreated and migrated at every run). It writes
planos.csv and alunos.csv (`--members` members) and imports them first (not timed), then a
checkins.csv of `--rows` rows (about 90 % with a saida, so ~1.9 events per row), naive local
timestamps over a year. Then, per round, each side starts from an empty `checkins` table (same
indexes, constraints and foreign key) after a CHECKPOINT:

- raw COPY: `COPY checkins (checkin_id, aluno_id, tipo, ocorrido_em, origem) FROM STDIN` of
  the same events, already transformed to the table's columns (ids, member ids, offsets) and
  serialized before the clock starts; one transaction.
- import: `serving.history_import.import_history(None, None, checkins.csv)`: read and check the
  CSV, COPY into staging, set-based checks, INSERT ... SELECT ... ON CONFLICT DO NOTHING.

Reported: seconds, check-in rows/s and events/s for both, the ratio import / raw COPY (target
≥ 0.5), the import's two phases, and a re-run of the import on the full table (everything
already present). Results go to bench/results/.
"""

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench import common

DATABASE = "gympulse_bench_import"
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
LIBPQ = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
TARGET_RATIO = 0.5
TARGET_READ_ROWS_PER_S = 200_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.import_throughput",
        description="History import of check-ins vs raw COPY of the same rows.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="check-in rows in the CSV")
    parser.add_argument("--members", type=int, default=20_000, help="members imported first")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds per side")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def write_files(directory: Path, members: int, rows: int, rng: random.Random) -> dict[str, Path]:
    planos = directory / "planos.csv"
    planos.write_text("nome,valor_mensal,duracao_meses\nMensal,129.90,1\nAnual,1099.00,12\n")
    alunos = directory / "alunos.csv"
    start = datetime(2025, 1, 1)
    with alunos.open("w") as f:
        f.write(
            "aluno_ref,nome,email,telefone,data_nascimento,plano,data_matricula,data_cancelamento\n"
        )
        for n in range(1, members + 1):
            joined = start + timedelta(days=rng.randrange(0, 60))
            left = "" if rng.random() < 0.8 else f"{joined + timedelta(days=300):%Y-%m-%d}"
            plan = "Anual" if n % 3 == 0 else "Mensal"
            f.write(
                f"M{n:06d},Aluno {n},aluno{n}@example.com,,1990-01-01,{plan},"
                f"{joined:%Y-%m-%d},{left}\n"
            )
    checkins = directory / "checkins.csv"
    base = datetime(2025, 3, 1, 6, 0, 0)
    with checkins.open("w") as f:
        f.write("aluno_ref,entrada,saida\n")
        chunk = []
        step = max(1, 365 * 86400 // rows)  # distinct entry times: no duplicate events
        for i in range(rows):
            entrada = base + timedelta(seconds=i * step + rng.randrange(0, step))
            ref = f"M{rng.randint(1, members):06d}"
            if rng.random() < 0.9:
                saida = entrada + timedelta(seconds=rng.randrange(1800, 7200))
                chunk.append(f"{ref},{entrada:%Y-%m-%d %H:%M:%S},{saida:%Y-%m-%d %H:%M:%S}\n")
            else:
                chunk.append(f"{ref},{entrada:%Y-%m-%d %H:%M:%S},\n")
            if i % 100_000 == 99_999:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))
    return {"planos": planos, "alunos": alunos, "checkins": checkins}


def baseline_rows(checkins: Path, members: dict[str, int], tz) -> tuple[bytes, int, int]:
    """The events import_history makes of the file, as COPY text for the checkins columns;
    with the number of distinct events and of events in the file (a few coincide)."""
    import csv

    from serving.history_import import CHECKIN_NAMESPACE, _Instants, _uuid5_hex

    instants = _Instants(tz)
    base = hashlib.sha1(CHECKIN_NAMESPACE.bytes)
    out: list[str] = []
    seen: set[str] = set()
    total = 0
    with checkins.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for ref, entrada, saida in reader:
            aluno = members[ref]
            for tipo, text in (("entrada", entrada), ("saida", saida)):
                if text:
                    total += 1
                    _local, iso = instants.canonical(text)
                    checkin_id = _uuid5_hex(base, f"{ref}|{tipo}|{iso}")
                    if checkin_id in seen:  # the import stores it once too
                        continue
                    seen.add(checkin_id)
                    out.append(f"{checkin_id}\t{aluno}\t{tipo}\t{iso}\timport\n")
    return "".join(out).encode(), len(out), total


def fresh_checkins(conn) -> None:
    conn.execute("truncate checkins")
    conn.execute("checkpoint")


def raw_copy(conn, data: bytes) -> float:
    fresh_checkins(conn)
    started = time.perf_counter()
    with (
        conn.transaction(),
        conn.cursor() as cur,
        cur.copy(
            "copy checkins (checkin_id, aluno_id, tipo, ocorrido_em, origem) from stdin"
        ) as copy,
    ):
        view = memoryview(data)
        for offset in range(0, len(data), 1 << 20):
            copy.write(view[offset : offset + (1 << 20)])
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.exit_on_sigterm()
    common.configure_environment({"DATABASE_URL": DATABASE_URL})
    import psycopg

    from serving.config import get_settings
    from serving.db.migrate import drop_database, upgrade
    from serving.history_import import import_history

    settings = get_settings()
    target = {
        "database_url": settings.database_url,
        "gym_timezone": settings.gym_timezone,
        "redis_url": settings.redis_url,
    }
    out_dir = common.run_dir("import_throughput")
    machine = common.machine_info()
    print(
        f"• import_throughput: {machine['cores']} cores, load average {machine['loadavg_at_start']}"
    )
    common.ensure_services()
    print(f"• preparing {DATABASE}")
    drop_database(settings.database_url)
    upgrade(settings.database_url)
    rng = random.Random(20261129)
    with tempfile.TemporaryDirectory(prefix="gympulse-import-") as tmp:
        print(f"• writing {args.members:,} members and {args.rows:,} check-in rows")
        files = write_files(Path(tmp), args.members, args.rows, rng)
        size_mb = files["checkins"].stat().st_size / 1e6
        setup = import_history(files["planos"], files["alunos"], None, **target, progress=False)
        assert not setup.rejects, setup.rejects[:5]
        with psycopg.connect(LIBPQ, autocommit=True) as conn:
            members = dict(
                conn.execute("select aluno_ref, id from alunos where aluno_ref is not null")
            )
            print("• transforming the rows for the raw COPY baseline (not timed)")
            data, events, file_events = baseline_rows(files["checkins"], members, settings.tz)
            raw_times, import_times, reads, loads = [], [], [], []
            for round_no in range(1, args.rounds + 1):
                seconds = raw_copy(conn, data)
                stored = conn.execute("select count(*) from checkins").fetchone()[0]
                assert stored == events, (stored, events)
                raw_times.append(seconds)
                print(f"  round {round_no}: raw COPY {seconds:.2f} s")
                fresh_checkins(conn)
                started = time.perf_counter()
                report = import_history(None, None, files["checkins"], **target, progress=False)
                seconds = time.perf_counter() - started
                rep = report.checkins
                assert rep is not None and not report.rejects and rep.inserted == events, rep
                import_times.append(seconds)
                reads.append(rep.seconds_read)
                loads.append(rep.seconds_load)
                print(
                    f"  round {round_no}: import {seconds:.2f} s "
                    f"(read+COPY {rep.seconds_read:.2f} s, checks+insert {rep.seconds_load:.2f} s)"
                )
            conn.execute("checkpoint")
            started = time.perf_counter()
            rerun = import_history(None, None, files["checkins"], **target, progress=False)
            rerun_s = time.perf_counter() - started
            assert rerun.checkins.inserted == 0, rerun.checkins
            assert rerun.checkins.already_present == events, (rerun.checkins, events)
            assert rerun.checkins.duplicates == file_events - events, rerun.checkins

    raw_s = statistics.median(raw_times)
    imp_s = statistics.median(import_times)
    read_s = statistics.median(reads)
    ratio = raw_s / imp_s
    result = {
        "rows": args.rows,
        "events": events,
        "csv_mb": round(size_mb, 1),
        "raw_copy_s": raw_times,
        "import_s": import_times,
        "import_read_s": reads,
        "import_load_s": loads,
        "median_raw_copy_s": raw_s,
        "median_import_s": imp_s,
        "raw_rows_per_s": args.rows / raw_s,
        "import_rows_per_s": args.rows / imp_s,
        "import_read_rows_per_s": args.rows / read_s,
        "ratio": ratio,
        "rerun_all_present_s": rerun_s,
    }
    verdict = {
        "ratio": ratio >= TARGET_RATIO,
        "read_rate": args.rows / read_s >= TARGET_READ_ROWS_PER_S,
    }
    payload = {
        "benchmark": "import_throughput",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python -m bench.import_throughput " + " ".join(sys.argv[1:]),
        "machine": machine,
        "settings": {"rows": args.rows, "members": args.members, "rounds": args.rounds},
        "result": result,
        "targets": {"ratio": TARGET_RATIO, "read_rows_per_s": TARGET_READ_ROWS_PER_S},
        "verdict": verdict,
    }
    path = common.write_results(out_dir, "import_throughput", payload)
    rows = [
        ("", "raw COPY", "import"),
        ("check-in rows", f"{args.rows:,}", f"{args.rows:,}"),
        ("events stored", f"{events:,}", f"{events:,}"),
        ("seconds (median)", f"{raw_s:.2f}", f"{imp_s:.2f}"),
        ("rows/s", f"{args.rows / raw_s:,.0f}", f"{args.rows / imp_s:,.0f}"),
        ("events/s", f"{events / raw_s:,.0f}", f"{events / imp_s:,.0f}"),
        ("  read + COPY to staging (rows/s)", "", f"{args.rows / read_s:,.0f}"),
        ("  checks + INSERT ... SELECT (s)", "", f"{statistics.median(loads):.2f}"),
        ("re-run, all present (s)", "", f"{rerun_s:.2f}"),
        ("ratio import / raw COPY", "", f"{ratio:.2f}"),
    ]
    print()
    print(common.table(rows))
    print(
        f"targets: ratio ≥ {TARGET_RATIO} {'OK' if verdict['ratio'] else 'MISSED'}, "
        f"read + COPY ≥ {TARGET_READ_ROWS_PER_S:,} rows/s "
        f"{'OK' if verdict['read_rate'] else 'MISSED'}"
    )
    print(f"\nresults: {path.relative_to(common.REPO_ROOT)}")
    return 1 if args.strict and not all(verdict.values()) else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
