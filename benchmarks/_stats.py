"""Timing and summary statistics (standard library only: ``time.perf_counter_ns``)."""

from __future__ import annotations

import gc
import math
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100), nearest rank: a value that was actually measured."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def time_calls(fn: Callable[[], object], n: int, *, warmup: int = 200) -> list[int]:
    """Nanoseconds of each of `n` calls of `fn` (one timer pair per call, so p99 is real).

    Each sample includes the timer pair and the loop (`timer_overhead_ns`); it is reported
    beside the results rather than subtracted, which only ever flatters the slower contender.
    """
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    samples = [0] * n
    gc.collect()
    for i in range(n):
        start = clock()
        fn()
        samples[i] = clock() - start
    return samples


def timer_overhead_ns(n: int = 100_000) -> float:
    """Median cost of timing an empty call the way `time_calls` times everything."""
    return median(time_calls(lambda: None, n))


def interleaved(
    contenders: dict[str, tuple[Callable[[], object], int]], rounds: int
) -> dict[str, list[int]]:
    """Time every contender in each of `rounds` rounds, in turn, and pool the samples.

    ``contenders``: name -> (function, calls per round). Interleaving spreads the machine's
    noise (other processes on 2 cores) over all contenders instead of hitting one of them.
    """
    pooled: dict[str, list[int]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, (fn, calls) in contenders.items():
            pooled[name] += time_calls(fn, calls)
    return pooled


def summarize_ns(samples: Sequence[int]) -> dict:
    """Median and p99 in microseconds, with the sample count."""
    return {
        "n": len(samples),
        "median_us": round(median(samples) / 1000, 3),
        "p99_us": round(percentile(samples, 99) / 1000, 3),
    }


def run_process(argv: Sequence[str], *, env: dict | None = None, timeout: float = 120) -> float:
    """Wall-clock milliseconds of one child process, start to exit; raises if it failed."""
    start = time.perf_counter_ns()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:3])}... exited with {done.returncode}: {done.stderr[-800:]}"
        )
    return elapsed


def ratio(slow: float, fast: float) -> float:
    return round(slow / fast, 1) if fast > 0 else math.inf
