"""Timing and peak-memory helpers shared by the benchmark scripts (never imported by tests).

Peak memory on CPU is the growth of the process's peak resident set (``ru_maxrss``) over the resident
set just before the measured call; each measurement runs in a fresh subprocess so peaks do not mix.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Callable


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(fn: Callable[[], object], repeats: int = 3, budget_s: float = 60.0) -> dict:
    """Median seconds of ``fn`` over up to ``repeats`` runs (fewer if slow) and peak extra memory (MiB)."""
    before = rss_bytes()
    start = time.perf_counter()
    fn()  # the first call pays for lazy compilation and allocation; it also sets the memory peak
    first = time.perf_counter() - start
    peak = peak_rss_bytes() - before
    times = [first]
    if first < budget_s / 4:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    times.sort()
    return {"seconds": times[len(times) // 2], "peak_mib": max(peak, 0) / 2**20}


def in_subprocess(script: str, *args: str, timeout: float = 900.0) -> dict:
    """Run ``script --one args...`` in a fresh interpreter; it prints one JSON line."""
    cmd = [sys.executable, script, "--one", *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": tail[0][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """The weights builder's table writer (``spanmix.apps.harness.weights.markdown_table``) without its final
    newline: benchmark scripts join their tables into sections themselves."""
    from spanmix.apps.harness.weights import markdown_table as table

    return table(header, rows).removesuffix("\n")
