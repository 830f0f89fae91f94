"""``make bench``: every measurement in one run, against an emulator on loopback.

    python benchmarks/run.py                    # the whole table: .bench/results.json + README
    python benchmarks/run.py --quick            # a smoke run (fewer calls; README left alone)
    python benchmarks/run.py --only startup-cost  # some measurements (README left alone)
    python benchmarks/run.py --strict           # exit 1 if a target is missed (default: errors)

Measurements: cached-token-latency, refresh-storm, startup-cost, request-counts,
accounts-scaling, approval-latency, paste-to-token, auto-chain-latency, and the worker
credential's worker-refresh-requests, worker-get-token, worker-refresh-propagation,
worker-credential-pickle (benchmarks/README.md says how each works).

Nothing leaves loopback: an audit hook in this process (and in every child it starts) refuses
any other address. Takes about five minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the repo (nbauth, benchmarks) importable
    sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402 - after the path fix above
    _setup,
    approval_latency,
    auto_chain,
    hot_path,
    paste_back,
    refresh_storm,
    report,
    request_counts,
    startup,
    workers,
)
from benchmarks._result import ERROR, FAIL, Row  # noqa: E402

MEASUREMENTS = {  # in the table's order
    "cached-token-latency": hot_path.measure_cache_hit,
    "refresh-storm": refresh_storm.measure,
    "startup-cost": startup.measure,
    "request-counts": request_counts.measure,
    "accounts-scaling": hot_path.measure_accounts_scaling,
    "approval-latency": approval_latency.measure,
    "paste-to-token": paste_back.measure,
    "auto-chain-latency": auto_chain.measure,
    "worker-refresh-requests": workers.measure_requests,
    "worker-get-token": workers.measure_get_token,
    "worker-refresh-propagation": workers.measure_propagation,
    "worker-credential-pickle": workers.measure_pickle,
}
# The hot path first, while this process is fresh; the slow process-spawning ones last.
RUN_ORDER = (
    "cached-token-latency",
    "accounts-scaling",
    "refresh-storm",
    "request-counts",
    "approval-latency",
    "paste-to-token",
    "startup-cost",
    "auto-chain-latency",
    # Dask clusters of 1, 8 and 32 worker processes, measured once for all four rows.
    "worker-refresh-requests",
    "worker-get-token",
    "worker-refresh-propagation",
    "worker-credential-pickle",
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="fewer calls and runs (a smoke run)")
    p.add_argument("--only", default="", help="comma-separated measurement names (default: all)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--no-readme", action="store_true", help="do not regenerate README's section")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    wanted = {x.strip() for x in args.only.split(",") if x.strip()} or set(MEASUREMENTS)
    unknown = sorted(wanted - set(MEASUREMENTS))
    if unknown:
        print(f"Unknown measurement(s) {unknown}; they are {list(MEASUREMENTS)}.", file=sys.stderr)
        return 2
    _setup.install_loopback_guard()
    _setup.isolate_user_state()
    results: dict = {
        "date": report.now_utc(),
        "machine": report.machine(),
        "load_average_start": report.load_average(),
        "quick": args.quick,
        "rows": [],
    }
    started = time.perf_counter()
    emulator = _setup.start_emulator(ROOT / ".bench" / "emulator")
    print(f"emulator on {emulator.info['authority_host']} (pid {emulator.process.pid})", flush=True)
    rows: list[Row] = []
    try:
        bench = _setup.Bench(emulator.info, emulator.admin, quick=args.quick)
        for name in [n for n in RUN_ORDER if n in wanted]:
            print(f"{name} ...", end=" ", flush=True)
            t0 = time.perf_counter()
            try:
                row = MEASUREMENTS[name](bench)
            except Exception as exc:  # noqa: BLE001 - one broken measurement must not hide others
                traceback.print_exc()
                row = Row(name, name, "", "", status=ERROR)
                row.nbauth = f"{ERROR}: {type(exc).__name__}: {str(exc)[:200]}"
            row.seconds = round(time.perf_counter() - t0, 1)
            print(f"{row.status} ({row.seconds:.0f} s)", flush=True)
            rows.append(row)
    finally:
        emulator.stop()
        _setup.remove_tmpdirs()
    rows.sort(key=lambda r: list(MEASUREMENTS).index(r.name))
    results["rows"] = [r.to_json() for r in rows]
    results["load_average_end"] = report.load_average()
    results["seconds"] = round(time.perf_counter() - started, 1)

    print()
    print(report.terminal_table(results["rows"]))
    print()
    print(report.markdown_table(results["rows"]))
    full = not args.quick and wanted == set(MEASUREMENTS)
    path = report.RESULTS if full else report.PARTIAL_RESULTS
    report.write_results(results, path)
    where = path.relative_to(ROOT)
    if full and not args.no_readme:
        report.write_readme(results)
        print(f"\nwrote {where} and README.md's performance section ({results['seconds']:.0f} s)")
    else:
        print(f"\nwrote {where} ({results['seconds']:.0f} s); README left alone (not a full run)")
    if any(r.status == ERROR for r in rows):
        return 1
    if args.strict and any(r.status.startswith(FAIL) for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
