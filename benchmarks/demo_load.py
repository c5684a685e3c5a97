"""Latency of the demo hub's model endpoints under concurrent requests, per ``--concurrency`` setting.

    python benchmarks/demo_load.py                          # concurrency 1 and 2, 20 requests per endpoint
    python benchmarks/demo_load.py --concurrency 1 2 4 --requests 20 --endpoints forecast_predict eeg_decode

For each concurrency C it starts ``demos/hub.py --concurrency C`` on a free port of 127.0.0.1 (loopback only),
waits for it, then for each endpoint sends one warm-up request (loads the weights and data), one timed
request alone, and then ``--requests`` requests at the same moment from as many client threads
(``gradio_client``), each timing its own request from submission to its result (queue wait included, as a user
waits). The requests differ (another backtest window, recording, ticker, sequence or seed) so no cache answers
them all. Reports p50/p95/max latency and the burst's wall time, with the load average before and after (the
machine is shared with other jobs: read the numbers with it). Writes ``benchmarks/results/demo_load.md``.
"""
from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "demos"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _measure import markdown_table

RESULTS = ROOT / "benchmarks" / "results" / "demo_load.md"
ENDPOINTS = ["forecast_predict", "eeg_decode", "finance_predict", "genomics_classify", "genomics_generate"]


def request_args(endpoint: str, i: int) -> tuple:
    """The inputs of request ``i`` of ``endpoint``: a valid request as the page sends it, varied with ``i``."""
    if endpoint == "forecast_predict":
        import forecast_tab as ft

        models = ft.list_models()
        choice = next(m for m in models if m.model == "smamba" and m.features == "MS").choice
        return (ft.SHIPPED_DATASETS["vic_elec"], None, choice, None, float(i * 37 % 101))
    if endpoint == "eeg_decode":
        import eeg_tab as et

        source = (et.REAL, et.SIMULATED)[i % 2]
        model = next(m for m in et.list_models() if m.name == et.SOURCE_MODEL[source])
        return (source, None, model.label, [], [])
    if endpoint == "finance_predict":
        import finance_tab as ft

        label = next(iter(ft.sources()))
        tickers = ["AAPL", "MSFT", "IBM", "GOOG"]
        target = tickers[i % 4]
        return (label, target, ", ".join(t for t in tickers if t != target), ft.list_models()[0].choice, "", "")
    if endpoint == "genomics_classify":
        import genomics_tab as gt

        return (gt.EXAMPLE[i % 50:], None)
    if endpoint == "genomics_generate":
        return ("ATGAAACGCATTAGCACCACCATTACCACC", 100, 0.8, 0, i)
    raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_hub(concurrency: int, timeout: float = 600.0):
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, str(ROOT / "demos" / "hub.py"), "--port", str(port), "--concurrency",
                             str(concurrency)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the hub exited with code {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return proc, url
        except OSError:
            time.sleep(1)
    proc.kill()
    raise RuntimeError(f"the hub did not answer on {url} within {timeout:.0f} s")


def timed(client, endpoint: str, args: tuple) -> float:
    start = time.perf_counter()
    result = client.predict(*args, api_name=f"/{endpoint}")
    elapsed = time.perf_counter() - start
    text = str(result)
    if "spanmix-error" in text:
        raise RuntimeError(f"{endpoint} answered with an error: {text[:300]}")
    return elapsed


def burst(url: str, endpoint: str, n: int) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False)
    timed(client, endpoint, request_args(endpoint, 0))  # warm-up: weights, data, caches
    alone = timed(client, endpoint, request_args(endpoint, 1))
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        latencies = list(pool.map(lambda i: timed(client, endpoint, request_args(endpoint, i)), range(n)))
    wall = time.perf_counter() - start
    lat = np.array(latencies)
    return {"alone": alone, "p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
            "max": float(lat.max()), "wall": wall, "load_before": load_before, "load_after": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--endpoints", nargs="+", default=ENDPOINTS, choices=ENDPOINTS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--append", action="store_true", help="add this run below the file's earlier runs")
    ns = parser.parse_args(argv)
    rows = []
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_start = os.getloadavg()
    for c in ns.concurrency:
        proc, url = start_hub(c)
        try:
            for endpoint in ns.endpoints:
                r = burst(url, endpoint, ns.requests)
                print(endpoint, c, {k: round(v, 2) for k, v in r.items()}, flush=True)
                rows.append([endpoint, c, f"{r['alone']:.2f}", f"{r['p50']:.1f}", f"{r['p95']:.1f}", f"{r['max']:.1f}",
                             f"{r['wall']:.1f}", f"{r['load_before']:.1f} → {r['load_after']:.1f}"])
        finally:
            proc.terminate()
            proc.wait(30)
    command = "python benchmarks/demo_load.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([
        *([] if ns.append else ["# Demo hub under concurrent requests", ""]),
        f"## `{command.strip()}`",
        "",
        f"{started}; {platform.machine()}, {os.cpu_count()} CPU cores, torch threads per hub process: torch's default; "
        f"load average at the start {load_start[0]:.1f} / {load_start[1]:.1f} / {load_start[2]:.1f} (1/5/15 min). "
        "The machine is shared with other jobs: the load column is the 1-minute load average just before and "
        "after each burst. Each burst: "
        f"{ns.requests} requests sent at once (loopback, `gradio_client`), each timed from submission to its "
        "result (queue wait included). `alone`: one request with nothing else queued. Seconds.",
        "",
        markdown_table(["endpoint", "concurrency", "alone", "p50", "p95", "max", "burst wall", "load"], rows),
        "",
    ])
    ns.output.parent.mkdir(parents=True, exist_ok=True)
    if ns.append and ns.output.is_file():
        text = ns.output.read_text().rstrip("\n") + "\n\n" + text
    ns.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
