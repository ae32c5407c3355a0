"""Snapshot speed and memory on the emulator with 250 ms latency per call.

Prints one JSON line: a full snapshot of all 470 projects (budget 8 s), the same run with
concurrency 1 as the baseline in this process, the no-change incremental run (budget 3 s),
and peak RSS (budget 300 MB; 87.8 MB before issue 14). `--quick` times the baseline on a
tenth of the sheets and scales it up (saying so in the output) instead of waiting about four
minutes.

    python benchmarks/snapshot.py [--quick] [--latency-ms 250]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services import jobs
from services.config import load_config_file
from services.models import Environment
from services.session import session

BUDGETS = {"full_s": 8.0, "incremental_s": 3.0, "peak_rss_mb": 300.0}


def make_demo(root: Path, latency_ms: int, concurrency: int | None) -> Path:
    client = f"[client]\nconcurrency = {concurrency}\n" if concurrency else ""
    config = root / "config.toml"
    config.write_text(
        f'backend = "emulator"\nworkspace = "workspace"\n{client}'
        f"[emulator]\nlatency_ms = {latency_ms}\n"
    )
    jobs.init_workspace(load_config_file(config), demo=True)
    return config


def timed_run(config_path: Path, sheets: list[str] | None = None) -> tuple[float, int]:
    config = load_config_file(config_path)
    with session(config) as opened:
        opened.client  # start the emulator and sign in outside the timed part  # noqa: B018
        started = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):
            result = jobs.run_snapshot(opened, list(Environment), sheets)
        elapsed = time.perf_counter() - started
    assert not result.report.failures, result.report.failures
    return elapsed, sum(result.report.checked.values())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=250)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sheetstage-bench-") as folder:
        root = Path(folder)
        (root / "concurrent").mkdir()
        config = make_demo(root / "concurrent", args.latency_ms, None)
        concurrency = load_config_file(config).client.concurrency
        full_s, projects = timed_run(config)
        incremental_s, _ = timed_run(config)
        rss = peak_rss_mb()

        (root / "sequential").mkdir()
        baseline = make_demo(root / "sequential", args.latency_ms, 1)
        if args.quick:
            part, counted = timed_run(baseline, [str(n) for n in range(0, 235, 10)])
            sequential_s = part * projects / counted
        else:
            sequential_s, _ = timed_run(baseline)
    figures = {
        "name": "snapshot",
        "projects": projects,
        "latency_ms": args.latency_ms,
        "concurrency": concurrency,
        "full_s": round(full_s, 2),
        "sequential_s": round(sequential_s, 2),
        "speedup": round(sequential_s / full_s, 1),
        "incremental_s": round(incremental_s, 2),
        "peak_rss_mb": round(rss, 1),
        "sequential_extrapolated": args.quick,
        "budget": BUDGETS,
        "within_budget": full_s < BUDGETS["full_s"]
        and incremental_s < BUDGETS["incremental_s"]
        and rss < BUDGETS["peak_rss_mb"],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
